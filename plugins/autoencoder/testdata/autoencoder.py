"""Reference PyTorch modules of gozoo's autoencoder plugin.

Train either in PyTorch, save its state_dict, and load it in gozoo with the
same options:

    ConvAutoencoder(in_channels=1, input_size=28, channels=(16, 32), latent_size=16)
      -> gozoo --arch conv_autoencoder --opt in_channels=1,input_size=28,channels=16:32,latent_size=16
    MLPAutoencoder(input_size=784, hidden=(256, 64), latent_size=16)
      -> gozoo --arch mlp_autoencoder --opt input_size=784,hidden=256:64,latent_size=16

The per-sample reconstruction error is reconstruction_error(model, x).
"""
import torch
from torch import nn


class ConvAutoencoder(nn.Module):
    """Strided 3x3 convolutions down to a linear latent code, transposed
    convolutions back up; input_size must be divisible by 2**len(channels)."""

    def __init__(self, in_channels=1, input_size=28, channels=(16, 32), latent_size=16):
        super().__init__()
        depth = len(channels)
        if input_size % (2 ** depth):
            raise ValueError("input_size must be divisible by 2**len(channels)")
        s = input_size // 2 ** depth
        enc, prev = [], in_channels
        for c in channels:
            enc += [nn.Conv2d(prev, c, 3, stride=2, padding=1), nn.ReLU()]
            prev = c
        enc += [nn.Flatten(), nn.Linear(prev * s * s, latent_size)]
        self.encoder = nn.Sequential(*enc)
        dec = [nn.Linear(latent_size, prev * s * s), nn.ReLU(), nn.Unflatten(1, (prev, s, s))]
        outs = list(reversed([in_channels] + list(channels[:-1])))
        for i, c in enumerate(outs):
            dec.append(nn.ConvTranspose2d(prev, c, 3, stride=2, padding=1, output_padding=1))
            dec.append(nn.Sigmoid() if i == len(outs) - 1 else nn.ReLU())
            prev = c
        self.decoder = nn.Sequential(*dec)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class MLPAutoencoder(nn.Module):
    """Linear+ReLU layers down to the latent code and back, Sigmoid out."""

    def __init__(self, input_size=784, hidden=(256, 64), latent_size=16):
        super().__init__()
        enc, prev = [], input_size
        for h in hidden:
            enc += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        enc.append(nn.Linear(prev, latent_size))
        self.encoder = nn.Sequential(*enc)
        dec, prev = [], latent_size
        for h in reversed(hidden):
            dec += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        dec += [nn.Linear(prev, input_size), nn.Sigmoid()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def reconstruction_error(model, x):
    """Per-sample mean squared reconstruction error, shape [N]."""
    r = model(x)
    return ((r - x) ** 2).flatten(1).mean(1)
