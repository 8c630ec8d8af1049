"""Writes parity fixtures for torchvision's inception_v3 or googlenet.

Usage: make_parity.py ARCH OUTDIR [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--layers a,b,c] [--aux-logits 0|1]
       [--transform-input 0|1] [--weights-only]

Into OUTDIR it writes:
  weights.pth   the model's state_dict (torch.save), with random weights
                and randomised BatchNorm affine parameters and running
                statistics; with --aux-logits 1 it holds the aux heads
  input.bin     the input batch, raw little-endian float32 [N, 3, H, W]
  <layer>.bin   each requested layer's output (forward hooks), raw
                float32. The aux heads run only in training mode, so
                their layers are hooked by calling the heads, in eval
                mode, on the hooked output they are fed in training
                (Mixed_6e; inception4a and inception4d).
  meta.json     {"input": shape, "outputs": {layer: shape},
                 "modules": [[name, class], ...] (named_modules, no root),
                 "params": [[name, shape], ...] (named_parameters)}
With --weights-only it writes weights.pth and nothing else.
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
    p.add_argument("--height", type=int, default=299)
    p.add_argument("--width", type=int, default=299)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--layers", default="fc")
    p.add_argument("--aux-logits", type=int, default=1)
    p.add_argument("--transform-input", type=int, default=0)
    p.add_argument("--weights-only", action="store_true")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model = getattr(torchvision.models, a.arch)(
        weights=None, num_classes=a.num_classes, aux_logits=bool(a.aux_logits),
        transform_input=bool(a.transform_input), init_weights=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
            elif isinstance(m, torch.nn.Conv2d):
                # Kaiming-scaled weights keep activations O(1) through
                # the whole network, so that the tolerance means something.
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, torch.nn.Linear):
                m.reset_parameters()
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(a.out, "weights.pth"))
    if a.weights_only:
        return

    modules = dict(model.named_modules())
    layers = [l for l in a.layers.split(",") if l]
    captured = {}

    def hook(name):
        def f(_module, _inputs, output):
            # Clone: BasicConv2d's relu works in place.
            captured[name] = output.detach().clone()
        return f

    feeds = {"AuxLogits": "Mixed_6e", "aux1": "inception4a", "aux2": "inception4d"}
    for name in layers:
        modules[name].register_forward_hook(hook(name))
    # Only heads with a requested layer run: inception_v3's needs a large
    # enough input.
    heads = [h for h in feeds if h in modules and any(l == h or l.startswith(h + ".") for l in layers)]
    for head, src in feeds.items():
        if head in heads:
            modules[src].register_forward_hook(hook("__in_" + head))
    x = torch.randn(a.batch, 3, a.height, a.width)
    with torch.no_grad():
        model(x)
        for head in heads:
                modules[head](captured["__in_" + head])
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
