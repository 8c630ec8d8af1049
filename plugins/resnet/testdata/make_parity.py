"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for one
torchvision ResNet variant with random weights and realistic BatchNorm
statistics.

Usage: make_parity.py OUTDIR ARCH [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--layers a,b,c] [--float64]
"""
import argparse

import torch
import torchvision

import gozoo_parity as gp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch")
    p.add_argument("--height", type=int, default=160)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--layers", default="conv1,maxpool,layer1,layer4,avgpool,fc")
    p.add_argument("--float64", action="store_true")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    gp.threads()
    model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
    gp.realistic_norms(model)
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, [l for l in a.layers.split(",") if l], float64=a.float64)


if __name__ == "__main__":
    main()
