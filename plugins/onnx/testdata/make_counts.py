"""make_counts.py OUTDIR: exports TinyNet (tinynet/tinynet.py, seed 0) as
gozoo bridge export does (batch norms kept as nodes) to
OUTDIR/tinynet_bn.onnx, and writes OUTDIR/counts.json: for every module,
the elements of its float parameters and buffers (running statistics),
which are the float initializers its ONNX nodes read."""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tinynet"))
import tinynet  # noqa: E402

out = sys.argv[1]
torch.manual_seed(0)
net = tinynet.build().eval()
counts = {}
for name, m in net.named_modules():
    if name:
        ts = list(m.parameters()) + [b for b in m.buffers() if b.is_floating_point()]
        counts[name] = sum(t.numel() for t in ts)
with open(os.path.join(out, "counts.json"), "w") as f:
    json.dump(counts, f)
with torch.no_grad():
    torch.onnx.export(net, torch.randn(2, 3, 16, 16), os.path.join(out, "tinynet_bn.onnx"), input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE)
