"""make_script.py OUTDIR: a seeded resnet18 (10 classes) saved twice, as a
TorchScript file (resnet18.pt, torch.jit.trace) and as a state_dict
(resnet18.pth), for the torchscript arch test."""

import os
import sys

import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(5)
net = torchvision.models.resnet18(num_classes=10).eval()
torch.save(net.state_dict(), os.path.join(out, "resnet18.pth"))
torch.jit.save(torch.jit.trace(net, torch.randn(1, 3, 32, 32)), os.path.join(out, "resnet18.pt"))
