"""make_textnets.py OUTDIR: builds textnets' EmbedLSTM and Fused (seed 0),
writes their state_dicts to OUTDIR/embed_lstm.pth and OUTDIR/fused.pth,
and the oracle OUTDIR/embed_lstm_io.npz and OUTDIR/fused_io.npz: inputs
(tokens [3, 12] int64; feats [3, 4] float32) and, for each module of
LAYERS, its output as a PyTorch forward hook sees it. Run by the tests
into temporary folders."""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "textnets"))
import textnets  # noqa: E402

LAYERS = {"embed_lstm": ["emb", "lstm", "fc"], "fused": ["emb", "dense", "dense.0", "head"]}

out = sys.argv[1]
torch.manual_seed(0)
tokens = torch.randint(0, textnets.VOCAB, (3, 12))
feats = torch.randn(3, 4)
for name, layers in LAYERS.items():
    net = getattr(textnets, name)().eval()
    got = {}
    mods = dict(net.named_modules())
    for lname in layers:
        def keep(m, i, o, lname=lname):
            o = o[0] if isinstance(o, tuple) else o
            got[lname] = o.detach().numpy().copy()
        mods[lname].register_forward_hook(keep)
    args = (tokens,) if name == "embed_lstm" else (tokens, feats)
    with torch.no_grad():
        y = net(*args)
    np.savez(os.path.join(out, name + "_io.npz"), tokens=tokens.numpy(), feats=feats.numpy(), output=y.numpy(), **got)
    torch.save(net.state_dict(), os.path.join(out, name + ".pth"))
