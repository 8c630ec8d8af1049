"""The module layout the text_encoder arch loads, and its parity fixture.

TextEncoder below is what a checkpoint for text_encoder holds: save
TextEncoder(...).state_dict() and load it with --arch text_encoder (nhead,
norm_first, activation, layer_norm_eps and batch_first as options; the
sizes come from the checkpoint).

Usage: text_encoder.py OUTDIR [--vocab V] [--d-model D] [--nhead H]
       [--layers L] [--ff F] [--max-len M] [--classes C] [--norm-first]
       [--activation relu|gelu] [--seq-first] [--final-norm]
       [--pooling mean|cls] [--tokens T] [--lengths a,b,c] [--seed S]
       [--outputs a,b,c] [--fast]

writes a parity fixture (sdk/sdktest/gozoo_parity.py): random weights
with LayerNorms far from identity, random token ids (padding included)
[N, T] or [T, N] as input.bin and the lengths as input1.bin. Per-token
outputs are written with padded positions zeroed, as gozoo returns them;
mean and cls are the pooled encoder outputs. The reference run passes an
all-zero src_mask besides src_key_padding_mask: torch then takes its
standard (unfused) path, whose submodules' forward hooks fire, and the
additive zeros change nothing. With --fast it passes none, and torch
takes the path it takes for users in eval mode without grad (fused
layers; with post-norm, batch first and an even nhead, nested tensors
that skip padding): only outputs outside the layers can be hooked then.
"""
import argparse

import torch
from torch import nn

import gozoo_parity as gp


class TextEncoder(nn.Module):
    def __init__(self, num_embeddings, d_model, nhead, num_layers, dim_feedforward, max_len,
                 num_classes=0, norm_first=False, activation="relu", batch_first=True,
                 final_norm=False, pooling="mean", layer_norm_eps=1e-5):
        super().__init__()
        self.batch_first = batch_first
        self.pooling = pooling
        self.embedding = nn.Embedding(num_embeddings, d_model)
        self.pos_embedding = nn.Parameter(torch.zeros(max_len, d_model))  # learned positions
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.1, activation=activation,
                                           layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                                           norm_first=norm_first)
        norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=norm)
        self.fc = nn.Linear(d_model, num_classes) if num_classes else None

    def forward(self, ids, lengths, src_mask=None):
        t = 1 if self.batch_first else 0
        T = ids.shape[t]
        pos = self.pos_embedding[:T]
        x = self.embedding(ids) + (pos if self.batch_first else pos[:, None])
        pad = torch.arange(T)[None, :] >= lengths[:, None]  # [N, T], True at padding
        x = self.encoder(x, mask=src_mask, src_key_padding_mask=pad)
        pooled = pool(x, lengths, self.batch_first, self.pooling)
        return self.fc(pooled) if self.fc is not None else pooled


def valid_mask(lengths, T, batch_first):
    """1 at valid tokens, 0 at padding: [N, T, 1] or [T, N, 1]."""
    v = (torch.arange(T)[None, :] < lengths[:, None]).float()
    return (v if batch_first else v.t())[..., None]


def pool(x, lengths, batch_first, pooling):
    """The mean over valid tokens, or the first token."""
    t = 1 if batch_first else 0
    if pooling == "cls":
        return x.select(t, 0)
    v = valid_mask(lengths, x.shape[t], batch_first).to(x.dtype)
    return (x * v).sum(t) / lengths[:, None].to(x.dtype)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--vocab", type=int, default=50)
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--nhead", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--ff", type=int, default=64)
    p.add_argument("--max-len", type=int, default=20)
    p.add_argument("--classes", type=int, default=0)
    p.add_argument("--norm-first", action="store_true")
    p.add_argument("--activation", default="relu")
    p.add_argument("--seq-first", action="store_true")
    p.add_argument("--final-norm", action="store_true")
    p.add_argument("--pooling", default="mean")
    p.add_argument("--tokens", type=int, default=9)
    p.add_argument("--lengths", default="9,4,1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outputs", default="embedding,encoder,mean,cls")
    p.add_argument("--fast", action="store_true")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    gp.threads()
    bf = not a.seq_first
    model = TextEncoder(a.vocab, a.d_model, a.nhead, a.layers, a.ff, a.max_len, a.classes, a.norm_first,
                        a.activation, bf, a.final_norm, a.pooling)
    gp.realistic_norms(model)
    with torch.no_grad():
        model.pos_embedding.normal_(0, 0.5)
        for name, q in model.named_parameters():
            if name.endswith("bias") and "norm" not in name:
                q.normal_(0, 0.1)
    lengths = torch.tensor([int(v) for v in a.lengths.split(",")])
    n, T = len(lengths), a.tokens
    ids = torch.randint(0, a.vocab, (n, T) if bf else (T, n))
    valid = valid_mask(lengths, T, bf)
    outputs = [o for o in a.outputs.split(",") if o]
    per_token = [o for o in outputs if o not in ("mean", "cls", "fc")]
    extra = {o: (lambda c, out, o=o: c[o] * valid.to(c[o].dtype)) for o in per_token}
    extra["mean"] = lambda c, out: pool(c["encoder"], lengths, bf, "mean")
    extra["cls"] = lambda c, out: pool(c["encoder"], lengths, bf, "cls")
    extra = {k: v for k, v in extra.items() if k in outputs}
    if ("mean" in outputs or "cls" in outputs) and "encoder" not in outputs:
        outputs.append("encoder")
    kwargs = {} if a.fast else {"src_mask": torch.zeros(T, T)}
    gp.write(a.out, model, (ids, lengths), outputs, extra=extra, kwargs=kwargs)


if __name__ == "__main__":
    main()
