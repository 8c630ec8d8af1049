"""Writes parity fixtures (see sdk/sdktest/gozoo_parity.py) for
torchvision's mobile nets with random weights and realistic BatchNorm
statistics, one subfolder per case, for sdktest.FixtureSet.

Usage: make_parity.py OUTDIR --cases JSON

JSON is a list of cases: {"name": subfolder, "arch": torchvision name,
"height": H, "width": W, "batch": N, "layers": [...], "num_classes": C,
"float64": bool, "v1_stem": bool, "seed": S}. Layers are module names, or the functional
pooling calls named as torch.fx names them ("adaptive_avg_pool2d",
"flatten", "mean"). Each case also gets fx.json: the eval-mode node names
of torchvision's get_graph_node_names, or the error tracing raised.
v1_stem builds an MNASNet of alpha != 1 from a version-1 checkpoint
(stem widths 32 and 16) the way torchvision loads one.
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--cases", required=True)
    a = p.parse_args()
    gp.threads()
    saved = {}  # one weights file per model: later cases link to it
    for c in json.loads(a.cases):
        torch.manual_seed(c.get("seed", 0))
        ncls = c.get("num_classes", 1000)
        if c.get("v1_stem"):
            model = v1_model(c["arch"], ncls)
        else:
            model = getattr(torchvision.models, c["arch"])(weights=None, num_classes=ncls)
            gp.realistic_norms(model)
        model.eval()
        modules = dict(model.named_modules())
        layers = list(c["layers"])
        extra = {}
        for name in c["layers"]:
            if name not in modules:
                src, fn = pooled(name, model)
                if src not in layers:
                    layers.append(src)
                extra[name] = fn
        out = os.path.join(a.out, c["name"])
        x = torch.randn(c["batch"], 3, c["height"], c["width"])
        gp.write(out, model, x, layers, float64=c.get("float64", False), extra=extra)
        key = (c["arch"], c.get("seed", 0), ncls, bool(c.get("v1_stem")))
        weights = os.path.join(out, "weights.pth")
        if key in saved:
            os.remove(weights)
            os.link(saved[key], weights)
        else:
            saved[key] = weights
        with open(os.path.join(out, "fx.json"), "w") as f:
            json.dump(fx_names(model), f)


if __name__ == "__main__":
    main()
