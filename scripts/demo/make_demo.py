"""Makes the demo's inputs: a torchvision resnet18 state_dict trained by
nobody (seeded random weights: no model hub is reachable) saved as a .pth,
and a float32 image batch as .npy. Then, given gozoo's output, compares it
with PyTorch's own forward pass on the same weights.

  python3 make_demo.py make DIR
  python3 make_demo.py check DIR OUT.npz layer...
"""
import sys

import numpy as np
import torch
import torchvision


def make(d):
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10)
    for mod in m.modules():  # make BatchNorm do something
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    torch.save(m.state_dict(), f"{d}/resnet18.pth")
    x = torch.randn(4, 3, 224, 224)
    np.save(f"{d}/images.npy", x.numpy())


def check(d, out, layers):
    m = torchvision.models.resnet18(num_classes=10)
    m.load_state_dict(torch.load(f"{d}/resnet18.pth"))
    m.eval()
    got = np.load(out)
    ref = {}
    mods = dict(m.named_modules())
    for name in layers:
        mods[name].register_forward_hook(lambda _m, _i, o, name=name: ref.__setitem__(name, o.detach().numpy()))
    with torch.no_grad():
        m(torch.from_numpy(np.load(f"{d}/images.npy")))
    for name in layers:
        diff = np.abs(got[name] - ref[name]).max()
        print(f"  {name:10s} {str(got[name].shape):20s} max |gozoo - torch| = {diff:.2e}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4:])
