"""Writes a parity fixture (see gozoo_parity in gozoo's sdk/sdktest) for
TinyCNN with seeded weights and realistic batch-norm statistics.

Usage: make_parity.py OUTDIR [--width W] [--depth D] [--num-classes C]
       [--height H] [--image-width W] [--batch N] [--seed S] [--layers a,b]
"""
import argparse
import os
import sys

import torch

import gozoo_parity as gp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tinycnn import TinyCNN  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--image-width", type=int, default=32)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", default="features.0.conv,features.0,features,avgpool,fc")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    gp.threads()
    model = TinyCNN(a.width, a.depth, a.num_classes)
    gp.realistic_norms(model)
    x = torch.randn(a.batch, 3, a.height, a.image_width)
    gp.write(a.out, model, x, [l for l in a.layers.split(",") if l])


if __name__ == "__main__":
    main()
