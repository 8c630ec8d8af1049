"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for
torchvision's inception_v3 or googlenet with random weights and realistic
BatchNorm statistics.

Usage: make_parity.py OUTDIR ARCH [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--layers a,b,c] [--aux-logits 0|1]
       [--transform-input 0|1] [--float64]
       make_parity.py --cases FILE   (a line OUTDIR ARCH ... per fixture)

With --aux-logits 1 the weights hold the aux heads. They run only in
training mode, so layers of a head are hooked by calling it, in eval
mode, on what training mode feeds it (Mixed_6e; inception4a and
inception4d), within the forward pass; only heads with a requested layer
run, as inception_v3's needs an input of about 299x299.
"""
import argparse

import torch
import torchvision

import gozoo_parity as gp

FEEDS = {"AuxLogits": "Mixed_6e", "aux1": "inception4a", "aux2": "inception4d"}


def with_heads(model, heads):
    """Makes model's forward also run heads on what they are fed."""
    base = type(model)

    class WithHeads(base):
        def forward(self, x):
            fed = {}
            hooks = [getattr(self, FEEDS[h]).register_forward_hook(
                lambda _m, _i, out, h=h: fed.__setitem__(h, out.clone())) for h in heads]
            out = base.forward(self, x)
            for hook in hooks:
                hook.remove()
            for h in heads:
                getattr(self, h)(fed[h])
            return out

    model.__class__ = WithHeads


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch")
    p.add_argument("--height", type=int, default=299)
    p.add_argument("--width", type=int, default=299)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--layers", default="fc")
    p.add_argument("--aux-logits", type=int, default=1)
    p.add_argument("--transform-input", type=int, default=0)
    p.add_argument("--float64", action="store_true")
    a = p.parse_args(argv)

    torch.manual_seed(a.seed)
    gp.threads()
    model = getattr(torchvision.models, a.arch)(
        weights=None, num_classes=a.num_classes, aux_logits=bool(a.aux_logits),
        transform_input=bool(a.transform_input), init_weights=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                # Kaiming-scaled weights keep activations O(1) through
                # the whole network, so that the tolerance means something.
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, torch.nn.Linear):
                m.reset_parameters()
    gp.realistic_norms(model, weight=(0.5, 1.5))
    layers = [l for l in a.layers.split(",") if l]
    heads = [h for h in FEEDS if getattr(model, h, None) is not None
             and any(l == h or l.startswith(h + ".") for l in layers)]
    with_heads(model, heads)
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, layers, float64=a.float64)


if __name__ == "__main__":
    gp.main(main)
