"""Writes fixtures for sdk/nn's module parity test.

Usage: modules.py OUTDIR

Net below mirrors the Go net in modules_test.go. Into OUTDIR it writes
weights.pth (random weights, randomised BatchNorm), input.bin (raw
little-endian float32 [2, 3, 21, 27]), <module>.bin for every module's
output (forward hooks, cloned at call time) and meta.json with the shapes.
"""
import json
import os
import sys

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=2, dilation=2, bias=True)
        self.gconv = nn.Conv2d(8, 8, (1, 3), padding=(0, 1), groups=4, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.mp = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.ap = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.ap2 = nn.AvgPool2d(2)
        self.sig = nn.Sigmoid()
        self.tanh = nn.Tanh()
        self.aap = nn.AdaptiveAvgPool2d((2, 2))
        self.flat = nn.Flatten()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(64, 5)

    def forward(self, x):
        y = self.relu(self.bn(self.gconv(self.conv(x))))
        a = self.sig(self.mp(y))
        b = self.tanh(self.ap(y))
        c = torch.cat([a, b], 1)
        self.ap2(c)  # a branch that feeds no output
        d = self.aap(self.relu(c))
        return self.fc(self.drop(self.flat(d)))


def main():
    out = sys.argv[1]
    torch.manual_seed(1)
    net = Net().eval()
    with torch.no_grad():
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.normal_(0, 0.2)
        net.bn.running_mean.normal_(0, 0.2)
        net.bn.running_var.uniform_(0.5, 1.5)
    os.makedirs(out, exist_ok=True)
    torch.save(net.state_dict(), os.path.join(out, "weights.pth"))
    captured = {}
    for name, m in net.named_modules():
        if name:
            m.register_forward_hook(lambda _m, _i, o, name=name: captured.__setitem__(name, o.detach().clone()))
    x = torch.randn(2, 3, 21, 27)
    with torch.no_grad():
        net(x)
    x.numpy().astype("<f4").tofile(os.path.join(out, "input.bin"))
    shapes = {}
    for name, t in captured.items():
        t.numpy().astype("<f4").tofile(os.path.join(out, name + ".bin"))
        shapes[name] = list(t.shape)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"input": list(x.shape), "outputs": shapes}, f)


if __name__ == "__main__":
    main()
