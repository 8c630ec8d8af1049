"""Writes parity fixtures (see sdk/sdktest/gozoo_parity.py) for torchvision's
EfficientNets, one subfolder of OUTDIR each, in one run.

Usage: make_parity.py OUTDIR SPEC...

Each SPEC is space-separated fields:
  "name=DIR arch=ARCH h=H w=W [batch=N] [seed=S] [classes=C] [layers=a,b,c] [f64] [meta]"
With layers, DIR gets a fixture with random weights and realistic
BatchNorm statistics, the layers' outputs for a seeded input of shape
[N, 3, H, W] and, with f64, the same from a float64 run. With meta, DIR
gets a shapes-only fixture of the arch built on the meta device (no
weights): every module's output shape for [1, 3, H, W] and the modules its
forward never calls.
"""
import os
import sys

import torch
import torchvision

import gozoo_parity as gp


def parse(spec):
    out = {"batch": "2", "seed": "0", "classes": "1000", "layers": ""}
    for field in spec.split():
        k, _, v = field.partition("=")
        out[k] = v if v else "1"
    return out


def main():
    root = sys.argv[1]
    gp.threads()
    for spec in sys.argv[2:]:
        s = parse(spec)
        out = os.path.join(root, s["name"])
        ctor = getattr(torchvision.models, s["arch"])
        h, w = int(s["h"]), int(s["w"])
        if "meta" in s:
            with gp.meta_device():
                model = ctor(weights=None, num_classes=int(s["classes"]))
            gp.write_meta(out, model, (1, 3, h, w))
            continue
        torch.manual_seed(int(s["seed"]))
        model = ctor(weights=None, num_classes=int(s["classes"]))
        gp.realistic_norms(model)
        x = torch.randn(int(s["batch"]), 3, h, w)
        gp.write(out, model, x, [l for l in s["layers"].split(",") if l], float64="f64" in s)


if __name__ == "__main__":
    main()
