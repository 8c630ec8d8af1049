"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for one of the
reference autoencoders (autoencoder.py) with random weights.

Usage: make_parity.py OUTDIR conv|mlp [--in-channels C] [--input-size S]
       [--widths a:b:c] [--latent L] [--batch N] [--seed S]
       make_parity.py --cases FILE   (a line OUTDIR conv|mlp ... per fixture)

--widths is channels for conv and hidden for mlp. The input is float32 in
[0, 1); the layers are every named module, plus latent (the encoder's
output), reconstruction (the decoder's) and mse, the per-sample
reconstruction error.
"""
import argparse

import torch

import gozoo_parity as gp
from autoencoder import ConvAutoencoder, MLPAutoencoder


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("kind", choices=["conv", "mlp"])
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--input-size", type=int, default=16)
    p.add_argument("--widths", default="8:12")
    p.add_argument("--latent", type=int, default=6)
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    gp.threads()
    widths = tuple(int(w) for w in a.widths.split(":") if w)
    if a.kind == "conv":
        m = ConvAutoencoder(a.in_channels, a.input_size, widths, a.latent)
        x = torch.rand(a.batch, a.in_channels, a.input_size, a.input_size)
    else:
        m = MLPAutoencoder(a.input_size, widths, a.latent)
        x = torch.rand(a.batch, a.input_size)
    layers = [n for n, _ in m.named_modules() if n] + ["latent", "reconstruction", "mse"]
    extra = {
        "latent": lambda cap, out: cap["encoder"],
        "reconstruction": lambda cap, out: out,
        # reconstruction_error(model, x), on the same forward pass
        "mse": lambda cap, out: ((out - x.to(out.dtype)) ** 2).flatten(1).mean(1),
    }
    gp.write(a.out, m, x, layers, extra=extra)


if __name__ == "__main__":
    gp.main(main)
