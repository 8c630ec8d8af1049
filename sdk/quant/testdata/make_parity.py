"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for the
quantizer's tests: a torchvision ResNet-18 with seeded random weights and
realistic BatchNorm statistics, in eval mode, so that the reference for
batch-norm folding and for the int8 graph is PyTorch's own forward pass.

Usage: make_parity.py OUTDIR [--height H] [--width W] [--batch N]
       [--seed S] [--layers a,b,c]
"""
import argparse

import torch
import torchvision

import gozoo_parity as gp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=80)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layers", default="layer1.0.conv1,layer1.0.bn1,layer2,layer4,avgpool,fc")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    gp.threads()
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    gp.realistic_norms(model)
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, [l for l in a.layers.split(",") if l])


if __name__ == "__main__":
    main()
