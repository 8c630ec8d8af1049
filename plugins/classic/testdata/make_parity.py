"""Writes parity fixtures (see sdk/sdktest/gozoo_parity.py) for
torchvision's AlexNet, SqueezeNet and DenseNet with random weights and
realistic BatchNorm statistics.

Usage: make_parity.py OUTDIR ARCH --layers a,b,c [--height H] [--width W]
       [--batch N] [--num-classes C] [--seed S] [--float64] [--legacy]
       make_parity.py --cases FILE (sdktest.MakeFixtures: a line of the
       above, without the program, per fixture)

Layers are module names, or torchvision's function calls named as
torch.fx names them ("relu", "adaptive_avg_pool2d", "flatten"). OUTDIR
also gets fx.json, the eval-mode node names of get_graph_node_names.
--legacy saves a DenseNet state_dict with the key names of checkpoints
older than torch 0.4 ("norm.1.weight" for "norm1.weight", no
num_batches_tracked), and the model it checks against loads it through
torchvision's own densenet._load_state_dict. Fixtures of one model
(arch, classes, seed, legacy) share one weights file, hard-linked.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import densenet as tv_densenet
from torchvision.models.feature_extraction import get_graph_node_names

import gozoo_parity as gp


def functional(name, model):
    """torchvision's functional calls after features, from the hooked
    module before them (features for DenseNet, avgpool for AlexNet, the
    classifier for SqueezeNet)."""
    arch = type(model).__name__
    if arch == "DenseNet":
        relu = lambda c: F.relu(c["features"])
        pool = lambda c: F.adaptive_avg_pool2d(relu(c), (1, 1))
        fns = {"relu": relu, "adaptive_avg_pool2d": pool, "flatten": lambda c: torch.flatten(pool(c), 1)}
        src = "features"
    elif arch == "AlexNet":
        fns, src = {"flatten": lambda c: torch.flatten(c["avgpool"], 1)}, "avgpool"
    else:
        fns, src = {"flatten": lambda c: torch.flatten(c["classifier"], 1)}, "classifier"
    if name not in fns:
        raise SystemExit("no functional layer %s in %s" % (name, arch))
    return src, lambda c, _out: fns[name](c)


class _Legacy:
    """A stand-in for a weights enum member: what torchvision's
    densenet._load_state_dict reads a checkpoint from."""

    def __init__(self, sd):
        self.sd = sd

    def get_state_dict(self, progress):
        return dict(self.sd)


def legacy_state_dict(model):
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        for old in ("norm1", "norm2", "conv1", "conv2", "relu1", "relu2"):
            k = k.replace("." + old + ".", "." + old[:-1] + "." + old[-1] + ".")
        out[k] = v
    return out


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
    p.add_argument("--legacy", action="store_true")
    a = p.parse_args(argv)
    gp.threads()
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
    gp.realistic_norms(model)
    state_dict = None
    if a.legacy:
        state_dict = legacy_state_dict(model)
        if not any(".norm.1." in k for k in state_dict):
            raise SystemExit("no legacy keys written")
        model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
        tv_densenet._load_state_dict(model, _Legacy(state_dict), False)
    model.eval()
    modules = dict(model.named_modules())
    asked = a.layers.split(",")
    layers = list(asked)
    extra = {}
    for name in asked:
        if name not in modules:
            src, fn = functional(name, model)
            if src not in layers:
                layers.append(src)
            extra[name] = fn
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, layers, float64=a.float64, extra=extra, state_dict=state_dict)
    key = (a.arch, a.seed, a.num_classes, a.legacy)
    weights = os.path.join(a.out, "weights.pth")
    if key in saved:
        os.remove(weights)
        os.link(saved[key], weights)
    else:
        saved[key] = weights
    with open(os.path.join(a.out, "fx.json"), "w") as f:
        json.dump({"eval": get_graph_node_names(model)[1]}, f)


if __name__ == "__main__":
    gp.main(main)
