"""Writes a parity fixture (see sdk/sdktest/gozoo_parity.py) for a
torch.nn.LSTM / torch.nn.GRU encoder (encoder.Encoder) with random weights.

Usage: make_parity.py OUTDIR ARCH [--input-size F] [--hidden H]
       [--num-layers L] [--bidirectional] [--batch-first] [--proj P]
       [--no-bias] [--embedding V] [--fc C]
       [--fc-input last|mean|h_n|h_n_last] [--bare] [--steps T]
       [--batch N] [--ragged] [--seed S]
       make_parity.py --cases FILE   (a line OUTDIR ARCH ... per fixture)

ARCH is lstm or gru; --bare saves the nn.LSTM/nn.GRU's own state_dict.
The inputs are the sequences (float32, or int64 token ids with
--embedding, in the module's layout: [N,T,F] with --batch-first, else
[T,N,F]; padded steps hold random values) and the int64 [N] lengths
(input1.bin; all T without --ragged). The layers are every tap of
Encoder.forward: embedding, ARCH (output, zero past each length), ARCH.l0
... (each stacked layer's output), h_n, c_n (LSTM), last, mean and fc.
"""
import argparse

import torch

import gozoo_parity as gp
from encoder import Encoder


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("arch", choices=["lstm", "gru"])
    p.add_argument("--input-size", type=int, default=5)
    p.add_argument("--hidden", type=int, default=7)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-first", action="store_true")
    p.add_argument("--proj", type=int, default=0)
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--embedding", type=int, default=0)
    p.add_argument("--fc", type=int, default=0)
    p.add_argument("--fc-input", default="last", choices=["last", "mean", "h_n", "h_n_last"])
    p.add_argument("--bare", action="store_true")
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--ragged", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    torch.manual_seed(a.seed)
    gp.threads()
    m = Encoder(a.arch, a.input_size, a.hidden, a.num_layers, a.bidirectional, a.batch_first,
                proj=a.proj, bias=not a.no_bias, vocab=a.embedding, classes=a.fc, fc_input=a.fc_input)
    T, N = a.steps, a.batch
    if a.ragged:
        lengths = torch.randint(1, T + 1, (N,))
        lengths[1 % N] = T
        lengths[0] = 1
    else:
        lengths = torch.full((N,), T, dtype=torch.int64)
    if a.embedding:
        x = torch.randint(0, a.embedding, (N, T))
    else:
        x = torch.randn(N, T, a.input_size) * 2
    if not a.batch_first:
        x = x.transpose(0, 1).contiguous()
    write(a.out, m, x, lengths, state_dict=m.rnn().state_dict() if a.bare else None)


def write(out, m, x, lengths, state_dict=None):
    """Writes m's fixture: every tap of its forward, the modules embedding
    and fc by their hooks, the rest from the taps it returns."""
    m.eval()
    with torch.no_grad():
        names = list(m(x, lengths))
    hooked = {"embedding", "fc"}
    extra = {k: (lambda _cap, taps, k=k: taps[k]) for k in names if k not in hooked}
    gp.write(out, m, (x, lengths), names, extra=extra, state_dict=state_dict)


if __name__ == "__main__":
    gp.main(main)
