"""TinyCNN, the PyTorch twin of the tinycnn backbone (tinycnn.go builds the
same modules, so its state_dict loads in gozoo by key)."""
import torch
from torch import nn


class Block(nn.Module):
    """3x3 conv (no bias), batch norm, ReLU, 2x2 max pool."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.relu(self.bn(self.conv(x))))


class TinyCNN(nn.Module):
    def __init__(self, width=16, depth=3, num_classes=10):
        super().__init__()
        chans = [3] + [width << i for i in range(depth)]
        self.features = nn.Sequential(*[Block(a, b) for a, b in zip(chans, chans[1:])])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans[-1], num_classes)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.fc(torch.flatten(x, 1))
