"""Writes parity fixtures for the reference autoencoders (autoencoder.py).

Usage: make_parity.py conv|mlp OUTDIR [--in-channels C] [--input-size S]
       [--widths a:b:c] [--latent L] [--batch N] [--seed S]

--widths is channels for conv and hidden for mlp. Into OUTDIR it writes
weights.pth (state_dict), input.npy (float32 in [0, 1)), outputs.npz (every
named module's output by forward hooks, plus latent, reconstruction and
mse, the per-sample reconstruction error) and meta.json ({"modules":
[[name, class], ...], "params": [[name, shape], ...]}).
"""
import argparse
import json
import os

import numpy as np
import torch

from autoencoder import ConvAutoencoder, MLPAutoencoder, reconstruction_error


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["conv", "mlp"])
    p.add_argument("out")
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--input-size", type=int, default=16)
    p.add_argument("--widths", default="8:12")
    p.add_argument("--latent", type=int, default=6)
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    widths = tuple(int(w) for w in a.widths.split(":") if w)
    if a.kind == "conv":
        m = ConvAutoencoder(a.in_channels, a.input_size, widths, a.latent)
        x = torch.rand(a.batch, a.in_channels, a.input_size, a.input_size)
    else:
        m = MLPAutoencoder(a.input_size, widths, a.latent)
        x = torch.rand(a.batch, a.input_size)
    m.eval()
    taps = {}
    for name, mod in m.named_modules():
        if name:
            mod.register_forward_hook(lambda _m, _i, o, name=name: taps.__setitem__(name, o.detach().clone()))
    with torch.no_grad():
        recon = m(x)
        taps["latent"] = m.encoder(x)
        taps["reconstruction"] = recon
        taps["mse"] = reconstruction_error(m, x)
    os.makedirs(a.out, exist_ok=True)
    torch.save(m.state_dict(), os.path.join(a.out, "weights.pth"))
    np.save(os.path.join(a.out, "input.npy"), x.numpy())
    np.savez(os.path.join(a.out, "outputs.npz"), **{k: v.numpy() for k, v in taps.items()})
    meta = {
        "modules": [[n, type(mod).__name__] for n, mod in m.named_modules() if n],
        "params": [[n, list(t.shape)] for n, t in m.named_parameters()],
    }
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()
