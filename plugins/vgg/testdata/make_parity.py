"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for one
torchvision VGG variant with random weights and, for the _bn variants,
realistic BatchNorm statistics.

Usage: make_parity.py OUTDIR ARCH [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--layers a,b,c] [--float64]
       make_parity.py --cases FILE   (a line OUTDIR ARCH ... per fixture)

The weights depend on ARCH, --seed and --num-classes only, so fixtures
at several input sizes share them.
"""
import argparse

import torch
import torchvision

import gozoo_parity as gp


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=80)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--layers", default="features.0,features,avgpool,classifier.0,classifier")
    p.add_argument("--float64", action="store_true")
    a = p.parse_args(argv)

    torch.manual_seed(a.seed)
    gp.threads()
    model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
    # BatchNorm weights near 1 keep 16 conv layers' activations O(1).
    gp.realistic_norms(model, weight=(0.5, 1.5))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                # torchvision's N(0, 0.01) and zero bias shrink the
                # classifier's outputs to ~1e-3; torch's default init
                # keeps them O(1) so that the tolerance means something.
                m.reset_parameters()
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, [l for l in a.layers.split(",") if l], float64=a.float64)


if __name__ == "__main__":
    gp.main(main)
