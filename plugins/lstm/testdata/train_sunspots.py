"""Trains a small LSTM forecaster on the yearly sunspot numbers that Debian's
python3-statsmodels ships (statsmodels.datasets.sunspots, 1700-2008, public
domain) and writes what gozoo must reproduce on held-out windows.

Usage: train_sunspots.py OUTDIR [--epochs E] [--window W]

The model is encoder.Encoder("lstm", input 1, hidden 16, 2 layers,
batch_first, fc 1 on the last step): it predicts next year's (scaled)
activity from the previous W years. Years up to 1949 train it; windows
ending after 1950 are held out, some cut short (ragged lengths). Into
OUTDIR: a parity fixture (sdk/sdktest/gozoo_parity.py) of every tap on
the held-out windows [N, W, 1] with their lengths, and losses.json.
Training takes a few seconds on 2 cores.
"""
import argparse
import json
import os

import numpy as np
from statsmodels.datasets import sunspots
import torch

from encoder import Encoder
import make_parity


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--window", type=int, default=20)
    a = p.parse_args()
    torch.manual_seed(0)
    # One thread: small full-batch steps gain nothing from a second one
    # and lose much to its spinning when the cores are busy.
    torch.set_num_threads(1)
    d = sunspots.load_pandas().data
    years = d["YEAR"].to_numpy()
    y = d["SUNACTIVITY"].to_numpy().astype(np.float32)
    split = int(np.searchsorted(years, 1950))
    mu, sd = y[:split].mean(), y[:split].std()
    z = (y - mu) / sd
    W = a.window

    def windows(lo, hi):
        xs, ts = [], []
        for end in range(max(lo, W), hi):
            xs.append(z[end - W:end])
            ts.append(z[end])
        return torch.tensor(np.array(xs))[:, :, None], torch.tensor(np.array(ts))[:, None]

    xtr, ttr = windows(0, split)
    xte, tte = windows(split, len(z))
    m = Encoder("lstm", 1, 16, 2, False, True, classes=1)
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    full = torch.full((len(xtr),), W, dtype=torch.int64)
    for _ in range(a.epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(m(xtr, full, layers=False)["fc"], ttr)
        loss.backward()
        opt.step()
    m.eval()
    # Held-out windows, every third one cut to its most recent steps and
    # left-aligned, the rest padded with garbage that must not matter.
    n = len(xte)
    lengths = torch.full((n,), W, dtype=torch.int64)
    x = xte.clone()
    for i in range(0, n, 3):
        k = W // 2 + i % (W // 2)
        lengths[i] = k
        x[i, :k] = xte[i, W - k:]
        x[i, k:] = 99.0
    with torch.no_grad():
        test_loss = torch.nn.functional.mse_loss(m(xte, torch.full((n,), W))["fc"], tte).item()
    naive = torch.nn.functional.mse_loss(xte[:, -1], tte).item()
    make_parity.write(a.out, m, x, lengths)
    with open(os.path.join(a.out, "losses.json"), "w") as f:
        json.dump({"train_mse": loss.item(), "heldout_mse": test_loss, "naive_mse": naive,
                   "train_windows": len(xtr), "heldout_windows": n}, f)


if __name__ == "__main__":
    main()
