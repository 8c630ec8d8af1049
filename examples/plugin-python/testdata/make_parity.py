"""make_parity.py OUTDIR: the PyTorch oracle for the mlp plugin. Saves a
seeded torch MLP with the plugin's module names (in_features 64, hidden
48, classes 7) as OUTDIR/mlp.pth, and in OUTDIR/parity.json an input
batch and every layer's output for it, caught by forward hooks."""

import json
import os
import sys

import torch


class MLP(torch.nn.Module):
    def __init__(self, n, h, c):
        super().__init__()
        self.fc1 = torch.nn.Linear(n, h)
        self.act1 = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(h, h)
        self.act2 = torch.nn.ReLU()
        self.head = torch.nn.Linear(h, c)

    def forward(self, x):
        return self.head(self.act2(self.fc2(self.act1(self.fc1(x)))))


out = sys.argv[1]
torch.manual_seed(3)
net = MLP(64, 48, 7).eval()
torch.save(net.state_dict(), os.path.join(out, "mlp.pth"))
x = torch.randn(5, 64)
got = {}
for name, m in net.named_children():
    m.register_forward_hook(lambda m, i, o, name=name: got.__setitem__(name, o.detach()))
with torch.no_grad():
    net(x)
with open(os.path.join(out, "parity.json"), "w") as f:
    json.dump({"input": x.flatten().tolist(),
               "outputs": {n: {"shape": list(t.shape), "data": t.flatten().tolist()} for n, t in got.items()}}, f)
