"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for one
torchvision SwinTransformer (v1) variant with random weights far from
the init's: attention logits of O(1) (so windows, shifts and masks
matter), relative position biases and linear biases far from zero, and
LayerNorms far from identity.

Usage: make_parity.py OUTDIR ARCH [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--layers a,b,c] [--float64]
       [--no-weights]
       make_parity.py OUTDIR --meta ARCH,ARCH,...
       make_parity.py --cases FILE   (one `OUTDIR args...` a line)

--no-weights writes an empty weights.pth, for a fixture whose weights
another with the same ARCH and --seed wrote (the seed draws the weights
before the input). --meta writes no weights and runs nothing: for each
ARCH (built with torch's init skipped, so big variants cost little)
OUTDIR/archs.json gets its named_modules, named_parameters and
named_buffers; meta.json is a stub.
"""
import argparse
import json
import math
import os

import torch
import torchvision

import gozoo_parity as gp


def randomise(model):
    gp.realistic_norms(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.normal_(0, 1.0)
            elif name.endswith("attn.qkv.weight"):
                p.normal_(0, 1 / math.sqrt(p.shape[1]))
            elif name.endswith("weight") and p.dim() == 2 and name.startswith("features"):
                p.normal_(0, 0.5 / math.sqrt(p.shape[1]))
            elif name.endswith("bias") and ".norm" not in name and not name.startswith("norm"):
                p.normal_(0, 0.05)


def meta_only(out, archs, num_classes):
    skip = lambda t, *args, **kw: t
    for f in ("trunc_normal_", "zeros_", "constant_", "normal_", "uniform_", "kaiming_uniform_", "xavier_uniform_", "ones_"):
        setattr(torch.nn.init, f, skip)
    res = {}
    for arch in archs:
        m = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
        res[arch] = {
            "modules": [[n, type(x).__name__] for n, x in m.named_modules() if n],
            "params": [[n, list(t.shape)] for n, t in m.named_parameters()],
            "buffers": [[n, list(t.shape)] for n, t in m.named_buffers()],
        }
        del m
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "archs.json"), "w") as f:
        json.dump(res, f)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"input": [1, 3, 224, 224], "outputs": {}, "modules": [], "params": []}, f)


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch", nargs="?")
    p.add_argument("--meta")
    p.add_argument("--height", type=int, default=224)
    p.add_argument("--width", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--layers", default="features.0,features.1,norm,head")
    p.add_argument("--float64", action="store_true")
    p.add_argument("--no-weights", action="store_true")
    a = p.parse_args(argv)
    if a.meta:
        meta_only(a.out, a.meta.split(","), a.num_classes)
        return
    torch.manual_seed(a.seed)
    gp.threads()
    model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
    randomise(model)
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, [l for l in a.layers.split(",") if l], float64=a.float64,
             state_dict={} if a.no_weights else None)


if __name__ == "__main__":
    gp.main(main)
