"""Writes a shapes-only fixture (gozoo_parity.write_meta) for sdktest's
test: a model built on the meta device with a module its forward never
calls, and a Linear too big to allocate in a test.

Usage: meta_fixture.py OUTDIR
"""
import sys

import torch

import gozoo_parity as gp


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.spare = torch.nn.ReLU()  # never called
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(4, 1 << 30)  # 4 Gi weights: meta only

    def forward(self, x):
        return self.fc(self.pool(self.bn(self.conv(x))).flatten(1))


def main():
    with gp.meta_device():
        model = Net()
    if model.fc.weight.device.type != "meta":
        raise SystemExit("meta_device did not put the weights on the meta device")
    gp.write_meta(sys.argv[1], model, (1, 3, 9, 7))


if __name__ == "__main__":
    main()
