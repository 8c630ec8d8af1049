"""The reference module of gozoo's recurrent plugin: an optional
nn.Embedding `embedding`, the nn.LSTM / nn.GRU held as `lstm` / `gru`, and
an optional nn.Linear `fc`, over padded sequences packed with their
lengths as torch's pack_padded_sequence packs them."""
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Encoder(nn.Module):
    """[embedding] -> lstm|gru -> [fc]. fc reads last (the output at each
    sequence's last valid step), mean (over its valid steps), h_n (the
    last layer's final states, directions concatenated) or h_n_last
    (h_n[-1], the last layer's last direction)."""

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
        d = 1 if fc_input == "h_n_last" or not bidirectional else 2
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
                     "h_n": torch.cat([h[i] for i in range(h.shape[0] - d, h.shape[0])], dim=1),
                     "h_n_last": h[-1]}[self.fc_input]
            taps["fc"] = self.fc(fc_in)
        return taps
