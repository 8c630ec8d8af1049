"""make_weights.py ARCH OUT.pth [SEED [NUM_CLASSES]]: saves a seeded random
torchvision model's state_dict, the stand-in for pretrained weights (no
package ships ImageNet weights). Run by the tests into temporary folders."""

import sys

import torch
import torchvision

arch, out = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
classes = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
torch.manual_seed(seed)
net = getattr(torchvision.models, arch)(weights=None, num_classes=classes)
torch.save(net.state_dict(), out)
