"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for a DCGAN
discriminator, plain or with torch's spectral_norm on every conv, with
random weights and realistic BatchNorm statistics.

Usage: make_parity.py OUTDIR [--image-size S] [--ndf F] [--nc C]
       [--batch N] [--seed S] [--sn none|hook|parametrizations]
       [--no-batch-norm] [--bias] [--layers all|a,b,c] [--float64]

At 64x64 with BatchNorm and no bias the module is the DCGAN tutorial's
Discriminator verbatim (checked against the generalised one).
"""
import argparse
import math

import torch
import torch.nn as nn
from torch.nn.utils import spectral_norm
from torch.nn.utils.parametrizations import spectral_norm as parametrized_spectral_norm

import gozoo_parity as gp


class TutorialDiscriminator(nn.Module):
    """PyTorch's DCGAN tutorial's Discriminator (without ngpu)."""

    def __init__(self, nc=3, ndf=64):
        super().__init__()
        self.main = nn.Sequential(
            # input is (nc) x 64 x 64
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 16 x 16
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*4) x 8 x 8
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*8) x 4 x 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    """The tutorial's discriminator for image_size 2^k: k-2 stride-2
    blocks of ndf*2^i channels, then the 4x4 conv to one logit."""

    def __init__(self, image_size=64, nc=3, ndf=64, batch_norm=True, bias=False):
        super().__init__()
        layers = []
        c = nc
        for i in range(int(math.log2(image_size)) - 2):
            layers.append(nn.Conv2d(c, ndf * 2 ** i, 4, 2, 1, bias=bias))
            if i > 0 and batch_norm:
                layers.append(nn.BatchNorm2d(ndf * 2 ** i))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = ndf * 2 ** i
        layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=bias), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, input):
        return self.main(input)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--nc", type=int, default=3)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sn", choices=["none", "hook", "parametrizations"], default="none")
    p.add_argument("--no-batch-norm", action="store_true")
    p.add_argument("--bias", action="store_true")
    p.add_argument("--layers", default="all")
    p.add_argument("--float64", action="store_true")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    gp.threads()
    model = Discriminator(a.image_size, a.nc, a.ndf, not a.no_batch_norm, a.bias)
    if a.image_size == 64 and not a.no_batch_norm and not a.bias:
        tutorial = TutorialDiscriminator(a.nc, a.ndf)
        if repr(tutorial.main) != repr(model.main):
            raise SystemExit("the generalised discriminator differs from the tutorial's at 64x64")
        model = tutorial
    # Weights that keep activations O(1) through every block (the
    # tutorial's N(0, 0.02) would shrink them towards the tolerance).
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1)
    x = torch.randn(a.batch, a.nc, a.image_size, a.image_size)
    if a.sn != "none":
        wrap = spectral_norm if a.sn == "hook" else parametrized_spectral_norm
        for i, m in enumerate(model.main):
            if isinstance(m, nn.Conv2d):
                model.main[i] = wrap(m)
        # Two training-mode passes move u and v by power iteration, as
        # training does, without converging them: sigma is u · W v, not
        # the exact largest singular value.
        model.train()
        with torch.no_grad():
            model(x)
            model(x)
    gp.realistic_norms(model)
    layers = a.layers.split(",")
    if a.layers == "all":
        layers = [n for n, _ in model.named_modules() if n and ".parametrizations" not in n]
    gp.write(a.out, model, x, layers, float64=a.float64)


if __name__ == "__main__":
    main()
