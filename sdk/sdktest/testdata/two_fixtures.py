"""Writes two small fixtures, OUTDIR/a and OUTDIR/b/c, for FixtureSet's
test: a Linear layer and a ReLU on a seeded input.

Usage: two_fixtures.py OUTDIR [--features F]
"""
import argparse
import os

import torch

import gozoo_parity as gp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--features", type=int, default=4)
    a = p.parse_args()
    torch.manual_seed(0)
    gp.threads()
    for name, width in (("a", a.features), (os.path.join("b", "c"), 2 * a.features)):
        model = torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.ReLU())
        gp.write(os.path.join(a.out, name), model, torch.randn(2, 3), ["0", "1"])


if __name__ == "__main__":
    main()
