"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for a
torchvision VisionTransformer with random weights far from the init's
zeros (class token, biases, heads) and LayerNorms far from identity.

Usage: make_parity.py OUTDIR ARCH [--height H] [--width W] [--batch N]
       [--seed S] [--num-classes C] [--image-size S]
       [--representation-size R] [--layers a,b,c] [--float64]
       [--weights PATH] [--sizes P,L,HEADS,D,MLP]
       make_parity.py OUTDIR --meta ARCH,ARCH,...

ARCH is vit_b_16, vit_b_32, vit_l_16, vit_l_32, or vit with --sizes
(patch_size, num_layers, num_heads, hidden_dim, mlp_dim). An input whose
size differs from image_size runs with encoder.pos_embedding resampled as
timm's resample_abs_pos_embed does (antialias off): the class token's
embedding kept, the grid interpolated with F.interpolate(mode="bicubic",
align_corners=False); weights.pth holds the checkpoint's own embeddings.
The layers cls_token and patch_mean are encoder.ln's x[:, 0] and
x[:, 1:].mean(1). --weights loads a state_dict instead of drawing one and
writes an empty weights.pth (the test loads PATH).

--meta writes no weights and runs nothing: for each ARCH (built with
torch's init skipped, so big variants cost nothing) OUTDIR/archs.json
gets its named_modules and named_parameters; meta.json is a stub.
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.vision_transformer import VisionTransformer

import gozoo_parity as gp


class AnySize(VisionTransformer):
    """torchvision's VisionTransformer without its input size checks."""

    def _process_input(self, x):
        n, _, h, w = x.shape
        p = self.patch_size
        x = self.conv_proj(x)
        return x.reshape(n, self.hidden_dim, (h // p) * (w // p)).permute(0, 2, 1)


def resample(pos, gh, gw):
    """timm's resample_abs_pos_embed (bicubic, antialias off)."""
    cls, grid = pos[:, :1], pos[:, 1:]
    g = int(math.isqrt(grid.shape[1]))
    grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)
    return torch.cat([cls, grid], 1)


def build(arch, a):
    kw = dict(num_classes=a.num_classes, image_size=a.image_size)
    if a.representation_size:
        kw["representation_size"] = a.representation_size
    if arch == "vit":
        p, layers, heads, d, mlp = (int(v) for v in a.sizes.split(","))
        return VisionTransformer(patch_size=p, num_layers=layers, num_heads=heads, hidden_dim=d, mlp_dim=mlp, **kw)
    return getattr(torchvision.models, arch)(weights=None, **kw)


def randomise(model):
    """Weights far from torchvision's zero and near-zero inits."""
    gp.realistic_norms(model)
    with torch.no_grad():
        model.class_token.normal_(0, 0.5)
        model.encoder.pos_embedding.normal_(0, 0.1)
        for name, p in model.named_parameters():
            if name.endswith("bias") and ".ln" not in name and "encoder.ln" not in name:
                p.normal_(0, 0.05)
        model.heads.head.weight.normal_(0, 0.05)


def meta_only(out, archs, a):
    """Modules and parameters of each arch, without drawing weights."""
    skip = lambda t, *args, **kw: t
    for mod in (torch.nn.init, torch.nn.modules.activation):
        for f in ("xavier_uniform_", "constant_", "normal_", "trunc_normal_", "zeros_", "ones_", "uniform_", "kaiming_uniform_"):
            if hasattr(mod, f):
                setattr(mod, f, skip)
    res = {}
    for arch in archs:
        m = build(arch, a)
        res[arch] = {
            "modules": [[n, type(x).__name__] for n, x in m.named_modules() if n],
            "params": [[n, list(t.shape)] for n, t in m.named_parameters()],
        }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "archs.json"), "w") as f:
        json.dump(res, f)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"input": [1, 3, a.image_size, a.image_size], "outputs": {}, "modules": [], "params": []}, f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch", nargs="?")
    p.add_argument("--meta")
    p.add_argument("--height", type=int, default=224)
    p.add_argument("--width", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--representation-size", type=int, default=0)
    p.add_argument("--sizes", default="16,12,12,768,3072")
    p.add_argument("--layers", default="conv_proj,encoder.ln,cls_token,heads.head")
    p.add_argument("--weights")
    p.add_argument("--float64", action="store_true")
    a = p.parse_args()
    if a.meta:
        meta_only(a.out, a.meta.split(","), a)
        return

    torch.manual_seed(a.seed)
    gp.threads()
    model = build(a.arch, a)
    if a.weights:
        model.load_state_dict(torch.load(a.weights))
        state = {}
    else:
        randomise(model)
        state = model.state_dict()
    model.__class__ = AnySize
    gh, gw = a.height // model.patch_size, a.width // model.patch_size
    if (a.height, a.width) != (a.image_size, a.image_size):
        with torch.no_grad():
            model.encoder.pos_embedding = torch.nn.Parameter(resample(model.encoder.pos_embedding, gh, gw))
    layers = [l for l in a.layers.split(",") if l]
    extra = {
        "cls_token": lambda c, out: c["encoder.ln"][:, 0],
        "patch_mean": lambda c, out: c["encoder.ln"][:, 1:].mean(1),
    }
    extra = {k: v for k, v in extra.items() if k in layers}
    if extra and "encoder.ln" not in layers:
        layers.append("encoder.ln")
    x = torch.randn(a.batch, 3, a.height, a.width)
    gp.write(a.out, model, x, layers, float64=a.float64, extra=extra, state_dict=state)


if __name__ == "__main__":
    main()
