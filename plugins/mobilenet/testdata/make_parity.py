"""Writes parity fixtures (see sdk/sdktest/gozoo_parity.py) for
torchvision's mobile nets with random weights and realistic BatchNorm
statistics.

Usage: make_parity.py OUTDIR ARCH --layers a,b,c [--height H] [--width W]
       [--batch N] [--num-classes C] [--seed S] [--float64] [--v1-stem]
       make_parity.py --cases FILE (sdktest.MakeFixtures: a line of the
       above, without the program, per fixture)

Layers are module names, or the functional pooling calls named as
torch.fx names them ("adaptive_avg_pool2d", "flatten", "mean"). OUTDIR
also gets fx.json: the eval-mode node names of torchvision's
get_graph_node_names, or the error tracing raised. --v1-stem builds an
MNASNet of alpha != 1 from a version-1 checkpoint (stem widths 32 and 16)
the way torchvision loads one. Fixtures of one model (arch, classes,
seed, stem) share one weights file, hard-linked.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import mnasnet as tv_mnasnet
from torchvision.models.feature_extraction import get_graph_node_names

import gozoo_parity as gp


def v1_model(arch, num_classes):
    """A version-1 MNASNet checkpoint loaded by torchvision's own path."""
    src = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    bn = tv_mnasnet._BN_MOMENTUM
    depths = tv_mnasnet._get_depths(src.alpha)
    stem = [
        torch.nn.Conv2d(3, 32, 3, padding=1, stride=2, bias=False),
        torch.nn.BatchNorm2d(32, momentum=bn),
        torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(32, 32, 3, padding=1, stride=1, groups=32, bias=False),
        torch.nn.BatchNorm2d(32, momentum=bn),
        torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(32, 16, 1, padding=0, stride=1, bias=False),
        torch.nn.BatchNorm2d(16, momentum=bn),
        tv_mnasnet._stack(16, depths[2], 3, 2, 3, 3, bn),
    ]
    for i, m in enumerate(stem):
        src.layers[i] = m
    gp.realistic_norms(src)
    sd = src.state_dict()
    sd._metadata[""]["version"] = 1
    model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    model.load_state_dict(sd)  # torchvision swaps in the version-1 stem
    if model.layers[0].out_channels != 32:
        raise SystemExit("torchvision did not rebuild the version-1 stem")
    return model


def pooled(name, model):
    """The functional pooling of torchvision's forward, from the hooked
    module before it."""
    if name == "mean":
        src = "conv5" if hasattr(model, "conv5") else "layers"
        return src, lambda c, _out: c[src].mean([2, 3])
    if name == "adaptive_avg_pool2d":
        return "features", lambda c, _out: F.adaptive_avg_pool2d(c["features"], (1, 1))
    if name == "flatten":
        if hasattr(model, "avgpool"):
            return "avgpool", lambda c, _out: torch.flatten(c["avgpool"], 1)
        return "features", lambda c, _out: torch.flatten(F.adaptive_avg_pool2d(c["features"], (1, 1)), 1)
    raise SystemExit("no functional layer %s" % name)


def fx_names(model):
    try:
        return {"eval": get_graph_node_names(model)[1]}
    except Exception as e:  # torch.fx cannot trace ShuffleNetV2's channel_shuffle
        return {"error": "%s: %s" % (type(e).__name__, str(e).splitlines()[0])}


saved = {}  # one weights file per model: later fixtures link to it


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch")
    p.add_argument("--layers", required=True)
    p.add_argument("--height", type=int, default=224)
    p.add_argument("--width", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float64", action="store_true")
    p.add_argument("--v1-stem", action="store_true")
    a = p.parse_args(argv)
    gp.threads()
    torch.manual_seed(a.seed)
    if a.v1_stem:
        model = v1_model(a.arch, a.num_classes)
    else:
        model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
        gp.realistic_norms(model)
    model.eval()
    modules = dict(model.named_modules())
    asked = a.layers.split(",")
    layers = list(asked)
    extra = {}
    for name in asked:
        if name not in modules:
            src, fn = pooled(name, model)
            if src not in layers:
                layers.append(src)
            extra[name] = fn
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, layers, float64=a.float64, extra=extra)
    key = (a.arch, a.seed, a.num_classes, a.v1_stem)
    weights = os.path.join(a.out, "weights.pth")
    if key in saved:
        os.remove(weights)
        os.link(saved[key], weights)
    else:
        saved[key] = weights
    with open(os.path.join(a.out, "fx.json"), "w") as f:
        json.dump(fx_names(model), f)


if __name__ == "__main__":
    gp.main(main)
