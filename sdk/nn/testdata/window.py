"""Writes fixtures for sdk/nn's window ops test (window_test.go).

Usage: window.py OUTDIR

Into OUTDIR: weights.pth (the state_dict of Ops below, random, LayerNorm
far from identity), x.bin [2, 8, 5, 6] (NCHW), y.bin [2, 9, 10, 8] and
z.bin [2, 5, 11, 8] (channels-last), raw little-endian float32, and
<name>.bin with meta.json {name: shape} for each torch result:
torchvision's LayerNorm2d, torch.roll, torchvision's _patch_merging_pad
on even and odd sizes, and torchvision's ShiftedWindowAttention unshifted,
shifted with padding, with a square window the map's height fits in (no
shift along it) and with a rectangular window.
"""
import json
import os
import sys

import torch
from torch import nn
from torchvision.models.convnext import LayerNorm2d
from torchvision.models.swin_transformer import ShiftedWindowAttention, _patch_merging_pad


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln2d = LayerNorm2d(8, eps=1e-6)
        self.plain = ShiftedWindowAttention(8, [3, 3], [0, 0], 2)
        self.shifted = ShiftedWindowAttention(8, [3, 3], [1, 1], 2)
        self.tall = ShiftedWindowAttention(8, [7, 7], [3, 3], 4)
        self.rect = ShiftedWindowAttention(8, [2, 3], [1, 1], 2)


def main():
    out = sys.argv[1]
    torch.manual_seed(5)
    torch.set_num_threads(1)
    m = Ops().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.5)
    os.makedirs(out, exist_ok=True)
    torch.save(m.state_dict(), os.path.join(out, "weights.pth"))
    x = torch.randn(2, 8, 5, 6)
    y = torch.randn(2, 9, 10, 8)
    z = torch.randn(2, 5, 11, 8)
    res = {}
    with torch.no_grad():
        res["ln2d"] = m.ln2d(x)
        res["roll"] = torch.roll(y, shifts=(-3, 2), dims=(1, 2))
        res["merge_even"] = _patch_merging_pad(y[:, :8])
        res["merge_odd"] = _patch_merging_pad(z)
        res["plain"] = m.plain(y)
        res["shifted"] = m.shifted(y)
        res["tall"] = m.tall(z)
        res["rect"] = m.rect(z)
    for name, t in [("x", x), ("y", y), ("z", z)] + list(res.items()):
        t.numpy().astype("<f4").tofile(os.path.join(out, name + ".bin"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({k: list(v.shape) for k, v in res.items()}, f)


if __name__ == "__main__":
    main()
