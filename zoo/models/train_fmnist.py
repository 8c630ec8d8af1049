"""Trains gozoo's embedded default model: a ResNet-18 of base width 8
(torchvision's resnet18 layout and state_dict names, every channel count
divided by 8: 177k parameters, 0.7 MB) on Fashion-MNIST, from Debian's
dataset-fashion-mnist. Three epochs take about ten minutes on one busy core.

Usage: /usr/bin/python3 zoo/models/train_fmnist.py OUT.pth [--epochs 3]
       [--data /usr/share/datasets/fashion-mnist] [--width 8]

Inputs are the 28x28 grayscale images replicated to 3 channels, scaled to
[0, 1] and normalised with mean 0.2860 and std 0.3530 (the training set's
statistics), exactly what the catalog entry's preprocessing gives. The
plugin runs it as arch resnet18 with option width=8 and num_classes=10.
It prints one JSON line: test accuracy, epochs, seed, parameter count.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock without its base_width check."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision's ResNet(BasicBlock, [2, 2, 2, 2]) with base width w."""

    def __init__(self, w=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = w
        for i, planes in enumerate([w, 2 * w, 4 * w, 8 * w]):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(2):
                down = None
                if j == 0 and (stride != 1 or inplanes != planes):
                    down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                blocks.append(BasicBlock(inplanes, planes, stride if j == 0 else 1, down))
                inplanes = planes
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * w, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tensors(images, labels):
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    x = ((x - MEAN) / STD).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    return x, torch.from_numpy(labels.astype(np.int64))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    # One thread: this model's ops are too small to gain from more, and
    # on a busy machine OpenMP barriers make two threads several times slower.
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    xtr, ytr = tensors(read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")),
                       read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")))
    xte, yte = tensors(read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")),
                       read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")))
    model = ResNet18(a.width, 10)
    batch = 256
    steps = a.epochs * ((len(xtr) + batch - 1) // batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.15, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.15, total_steps=steps)
    lossf = nn.CrossEntropyLoss()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            xb = xtr[idx]
            flip = torch.rand(len(idx)) < 0.5  # horizontal flips
            xb[flip] = xb[flip].flip(3)
            opt.zero_grad()
            loss = lossf(model(xb), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, xte, yte)
        print("epoch %d loss %.4f test accuracy %.4f" % (epoch + 1, loss.item(), acc), flush=True)
    model.eval()
    torch.save(model.state_dict(), a.out)
    print(json.dumps({"test_accuracy": round(acc, 4), "epochs": a.epochs, "seed": a.seed,
                      "width": a.width, "params": sum(p.numel() for p in model.parameters())}))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    return correct / len(x)


if __name__ == "__main__":
    main()
