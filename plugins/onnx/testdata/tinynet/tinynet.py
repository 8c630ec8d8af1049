"""TinyNet: a small CNN that is not a zoo architecture, with a residual
block and a self-attention block, for the ONNX bridge tests. Load it as
module tinynet:build with the module path testdata/tinynet."""

import torch
from torch import nn


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(x + y)


class Attention(nn.Module):
    """Single-head self-attention over the spatial positions."""

    def __init__(self, c):
        super().__init__()
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        self.norm = nn.LayerNorm(c)
        self.scale = c ** -0.5

    def forward(self, x):
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # [N, HW, C]
        q, k, v = self.qkv(self.norm(t)).chunk(3, dim=-1)
        a = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1)
        t = t + self.proj(a @ v)
        return t.transpose(1, 2).reshape(n, c, h, w)


class TinyNet(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.block = Residual(16)
        self.attn = Attention(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.attn(self.block(self.stem(x)))
        return self.head(torch.flatten(self.pool(x), 1))


def build(num_classes=5):
    """Returns a TinyNet with randomly initialised weights and batch-norm
    statistics that are not the identity."""
    net = TinyNet(num_classes)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net
