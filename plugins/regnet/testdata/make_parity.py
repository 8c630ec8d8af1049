"""Writes the parity fixtures of torchvision's RegNets that the package's
tests ask for, in one run (see gozoo_parity.run_specs and sdktest.Spec).

Usage: make_parity.py OUTDIR SPEC...
"""
import sys

import torchvision

import gozoo_parity as gp


def build(arch, num_classes):
    return getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)


if __name__ == "__main__":
    gp.run_specs(sys.argv[1:], build)
