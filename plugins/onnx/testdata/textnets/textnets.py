"""Text models for the bridge tests, not zoo architectures: an embedding
and LSTM over token ids, and a model of two inputs (token ids and dense
features). Load them as module textnets:embed_lstm or textnets:fused with
the module path testdata/textnets."""

import torch
from torch import nn

VOCAB = 50


class EmbedLSTM(nn.Module):
    """Token ids [N, T] -> nn.Embedding -> nn.LSTM -> fc on the last step."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, tokens):
        y, _ = self.lstm(self.emb(tokens))
        return self.fc(y[:, -1])


class Fused(nn.Module):
    """Two inputs: token ids [N, T] (mean of their embeddings) and dense
    features [N, 4], joined by a linear head."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 8)
        self.dense = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.head = nn.Linear(16, num_classes)

    def forward(self, tokens, feats):
        t = self.emb(tokens).mean(dim=1)
        return self.head(torch.cat([t, self.dense(feats)], dim=1))


def embed_lstm(num_classes=3):
    return EmbedLSTM(num_classes)


def fused(num_classes=3):
    return Fused(num_classes)
