"""Writes fixtures for sdk/nn's transformer ops test (attention_test.go).

Usage: attention.py OUTDIR

Into OUTDIR: weights.pth (the state_dict of Ops below, random, LayerNorm
far from identity), x.bin [2, 6, 16] and grid.bin [1, 8, 5, 5] (raw
little-endian float32), lengths [6, 3], and <name>.bin with meta.json
{name: shape} for each torch result: LayerNorm(eps=1e-6), GELU, softmax,
MultiheadAttention with a key_padding_mask, batch first and time-major,
the mean over valid tokens, and F.interpolate(mode="bicubic",
align_corners=False) to several sizes.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

SIZES = [(7, 9), (3, 4), (1, 1), (5, 5), (10, 6), (2, 8)]


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(16, eps=1e-6)
        self.gelu = nn.GELU()
        self.bf = nn.MultiheadAttention(16, 4, batch_first=True)
        self.tm = nn.MultiheadAttention(16, 4)


def main():
    out = sys.argv[1]
    torch.manual_seed(3)
    torch.set_num_threads(1)
    m = Ops().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.5)
    os.makedirs(out, exist_ok=True)
    torch.save(m.state_dict(), os.path.join(out, "weights.pth"))
    x = torch.randn(2, 6, 16)
    grid = torch.randn(1, 8, 5, 5)
    lengths = torch.tensor([6, 3])
    pad = torch.arange(6)[None, :] >= lengths[:, None]
    valid = (~pad).float()[..., None]
    res = {}
    with torch.no_grad():
        res["ln"] = m.ln(x)
        res["gelu"] = m.gelu(x)
        res["softmax"] = torch.softmax(x, -1)
        res["bf"] = m.bf(x, x, x, key_padding_mask=pad, need_weights=False)[0]
        xt = x.transpose(0, 1)
        res["tm"] = m.tm(xt, xt, xt, key_padding_mask=pad, need_weights=False)[0]
        res["mean"] = (x * valid).sum(1) / lengths[:, None].float()
        for h, w in SIZES:
            res["bicubic_%dx%d" % (h, w)] = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
    x.numpy().astype("<f4").tofile(os.path.join(out, "x.bin"))
    grid.numpy().astype("<f4").tofile(os.path.join(out, "grid.bin"))
    for k, v in res.items():
        v.numpy().astype("<f4").tofile(os.path.join(out, k + ".bin"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({k: list(v.shape) for k, v in res.items()}, f)


if __name__ == "__main__":
    main()
