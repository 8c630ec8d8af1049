"""Writes parity fixtures for a torch.nn.LSTM / torch.nn.GRU encoder.

Usage: make_parity.py --cases FILE   (one argument list below per line)
       make_parity.py ARCH OUTDIR [--input-size F] [--hidden H]
       [--num-layers L] [--bidirectional] [--batch-first] [--proj P]
       [--no-bias] [--embedding V] [--fc C] [--fc-input last|mean|h_n]
       [--bare] [--steps T] [--batch N] [--ragged] [--seed S]

ARCH is lstm or gru. The reference module holds the recurrent layer as
`lstm` / `gru`, with an optional nn.Embedding `embedding` in front and an
nn.Linear `fc` behind; --bare saves the nn.LSTM/nn.GRU's own state_dict.

Into OUTDIR it writes:
  weights.pth   the state_dict (torch.save)
  input.npy     float32 sequences, or int64 token ids with --embedding,
                in the module's layout ([N,T,F] with --batch-first,
                else [T,N,F]); padded steps hold random values
  lengths.npy   int64 [N] valid lengths (all T without --ragged)
  outputs.npz   the taps, computed with pack_padded_sequence:
                embedding, ARCH (output, padded with zeros to T),
                ARCH.l0 ... (each stacked layer's output, from one-layer
                modules holding that layer's weights), h_n, c_n (LSTM),
                last (output at each sequence's last valid step), mean
                (output averaged over valid steps), fc
  meta.json     {"params": [[name, shape], ...]} (named_parameters)
"""
import argparse
import json
import os
import shlex
import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Encoder(nn.Module):
    """The reference module: [embedding] -> lstm|gru -> [fc]."""

    def __init__(self, arch, input_size, hidden, layers, bidirectional, batch_first,
                 proj=0, bias=True, vocab=0, classes=0, fc_input="last"):
        super().__init__()
        self.arch = arch
        self.fc_input = fc_input
        self.batch_first = batch_first
        if vocab:
            self.embedding = nn.Embedding(vocab, input_size)
        kw = dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
        if arch == "lstm":
            rnn = nn.LSTM(input_size, hidden, proj_size=proj, **kw)
        else:
            rnn = nn.GRU(input_size, hidden, **kw)
        setattr(self, arch, rnn)
        d = 2 if bidirectional else 1
        if classes:
            self.fc = nn.Linear(d * (proj or hidden), classes)

    def rnn(self):
        return getattr(self, self.arch)

    def forward(self, x, lengths, layers=True):
        """Returns every tap by name; layers=False skips the per-layer
        reruns (ARCH.l0, ...), for training."""
        taps = {}
        if hasattr(self, "embedding"):
            x = self.embedding(x)
            taps["embedding"] = x
        rnn = self.rnn()
        T = x.shape[1] if self.batch_first else x.shape[0]
        packed = pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
        out, state = rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=T)
        taps[self.arch] = out
        if self.arch == "lstm":
            taps["h_n"], taps["c_n"] = state
        else:
            taps["h_n"] = state
        # Each stacked layer on its own.
        d = 2 if rnn.bidirectional else 1
        seq = x
        for l in range(rnn.num_layers if layers else 0):
            kw = dict(num_layers=1, bias=rnn.bias, batch_first=self.batch_first, bidirectional=rnn.bidirectional)
            if self.arch == "lstm":
                one = nn.LSTM(seq.shape[-1], rnn.hidden_size, proj_size=rnn.proj_size, **kw)
            else:
                one = nn.GRU(seq.shape[-1], rnn.hidden_size, **kw)
            sd = {}
            for name in one.state_dict():
                sd[name] = rnn.state_dict()[name.replace("_l0", "_l%d" % l)]
            one.load_state_dict(sd)
            p = pack_padded_sequence(seq, lengths, batch_first=self.batch_first, enforce_sorted=False)
            o, _ = one(p)
            seq, _ = pad_packed_sequence(o, batch_first=self.batch_first, total_length=T)
            taps["%s.l%d" % (self.arch, l)] = seq
        tm = out.transpose(0, 1) if self.batch_first else out
        n = tm.shape[1]
        taps["last"] = tm[lengths - 1, torch.arange(n)]
        taps["mean"] = tm.sum(0) / lengths.to(tm.dtype)[:, None]
        if hasattr(self, "fc"):
            h = taps["h_n"]
            fc_in = {"last": taps["last"], "mean": taps["mean"],
                     "h_n": torch.cat([h[i] for i in range(h.shape[0] - d, h.shape[0])], dim=1)}[self.fc_input]
            taps["fc"] = self.fc(fc_in)
        return taps


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("arch", choices=["lstm", "gru"])
    p.add_argument("out")
    p.add_argument("--input-size", type=int, default=5)
    p.add_argument("--hidden", type=int, default=7)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-first", action="store_true")
    p.add_argument("--proj", type=int, default=0)
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--embedding", type=int, default=0)
    p.add_argument("--fc", type=int, default=0)
    p.add_argument("--fc-input", default="last")
    p.add_argument("--bare", action="store_true")
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--ragged", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    m = Encoder(a.arch, a.input_size, a.hidden, a.num_layers, a.bidirectional, a.batch_first,
                proj=a.proj, bias=not a.no_bias, vocab=a.embedding, classes=a.fc, fc_input=a.fc_input)
    m.eval()
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
    with torch.no_grad():
        taps = m(x, lengths)
    os.makedirs(a.out, exist_ok=True)
    sd = m.rnn().state_dict() if a.bare else m.state_dict()
    torch.save(sd, os.path.join(a.out, "weights.pth"))
    np.save(os.path.join(a.out, "input.npy"), x.numpy())
    np.save(os.path.join(a.out, "lengths.npy"), lengths.numpy().astype(np.int64))
    np.savez(os.path.join(a.out, "outputs.npz"), **{k: v.numpy().astype(np.float32) for k, v in taps.items()})
    meta = {"params": [[n, list(t.shape)] for n, t in m.named_parameters()]}
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--cases":
        # One fixture per line of the file (the arguments above), sparing
        # a PyTorch start per fixture.
        with open(sys.argv[2]) as f:
            for line in f:
                if line.strip():
                    main(shlex.split(line))
    else:
        main()
