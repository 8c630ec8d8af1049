"""make_dataparallel.py OUT_DIR: saves a seeded random resnet18 (5 classes)
twice: OUT_DIR/plain.pth, its state_dict, and OUT_DIR/dp.pth, the
state_dict of the same net wrapped in torch.nn.DataParallel, whose keys
all start with "module.". Run by the tests into temporary folders."""

import os
import sys

import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(3)
net = torchvision.models.resnet18(weights=None, num_classes=5)
torch.save(net.state_dict(), os.path.join(out, "plain.pth"))
dp = torch.nn.DataParallel(net)
sd = dp.state_dict()
assert all(k.startswith("module.") for k in sd)
torch.save(sd, os.path.join(out, "dp.pth"))
