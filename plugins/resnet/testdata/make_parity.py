"""Writes parity fixtures for one torchvision ResNet variant.

Usage: make_parity.py ARCH OUTDIR [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--layers a,b,c]

Into OUTDIR it writes:
  weights.pth   the model's state_dict (torch.save), with random weights
                and randomised BatchNorm affine parameters and running
                statistics, so BatchNorm is far from the identity
  input.bin     the input batch, raw little-endian float32 [N, 3, H, W]
  <layer>.bin   each requested layer's output (forward hooks; for a module
                called several times, the last call), raw float32
  meta.json     {"input": shape, "outputs": {layer: shape},
                 "modules": [[name, class], ...] (named_modules, no root),
                 "params": [[name, shape], ...] (named_parameters)}
"""
import argparse
import json
import os

import torch
import torchvision


def main():
    p = argparse.ArgumentParser()
    p.add_argument("arch")
    p.add_argument("out")
    p.add_argument("--height", type=int, default=160)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--layers", default="conv1,maxpool,layer1,layer4,avgpool,fc")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                # Far from the identity, yet small enough that activations
                # stay O(1) through resnet152's 50 residual blocks.
                m.weight.uniform_(0.2, 0.6)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(a.out, "weights.pth"))

    modules = dict(model.named_modules())
    layers = [l for l in a.layers.split(",") if l]
    captured = {}

    def hook(name):
        def f(_module, _inputs, output):
            # Clone: torchvision's ReLU and `out += identity` work in place.
            captured[name] = output.detach().clone()
        return f

    for name in layers:
        modules[name].register_forward_hook(hook(name))
    x = torch.randn(a.batch, 3, a.height, a.width)
    with torch.no_grad():
        model(x)
    x.numpy().astype("<f4").tofile(os.path.join(a.out, "input.bin"))
    outputs = {}
    for name in layers:
        t = captured[name]
        t.numpy().astype("<f4").tofile(os.path.join(a.out, name + ".bin"))
        outputs[name] = list(t.shape)
    meta = {
        "input": list(x.shape),
        "outputs": outputs,
        "modules": [[n, type(m).__name__] for n, m in model.named_modules() if n],
        "params": [[n, list(t.shape)] for n, t in model.named_parameters()],
    }
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()
