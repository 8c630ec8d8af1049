"""make_tinynet.py OUTDIR: exports TinyNet (tinynet/tinynet.py, seed 0) with
torch.onnx.export (opset 17, dynamic batch) to OUTDIR/tinynet.onnx and
writes OUTDIR/tinynet.pth (its state_dict) and OUTDIR/tinynet_io.npz: a [3, 3, 16, 16] input and, for each module
of LAYERS, its output as a PyTorch forward hook sees it (the oracle)."""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tinynet"))
import tinynet  # noqa: E402

LAYERS = ["stem", "stem.2", "block", "block.conv1", "block.conv2", "block.relu", "attn", "attn.qkv", "attn.proj", "pool", "head"]

out = sys.argv[1]
torch.manual_seed(0)
net = tinynet.build().eval()
x = torch.randn(3, 3, 16, 16)
got = {}
mods = dict(net.named_modules())
for name in LAYERS:
    mods[name].register_forward_hook(lambda m, i, o, name=name: got.__setitem__(name, o.detach().numpy()))
with torch.no_grad():
    net(x)
np.savez(os.path.join(out, "tinynet_io.npz"), input=x.numpy(), **got)
torch.save(net.state_dict(), os.path.join(out, "tinynet.pth"))
with torch.no_grad():
    torch.onnx.export(net, x, os.path.join(out, "tinynet.onnx"), input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, opset_version=17)
