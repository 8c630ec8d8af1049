"""make_evil.py OUT.pth MARKER [CORRUPT.pth]: writes OUT.pth, a TorchScript
archive named like a checkpoint whose __setstate__ creates the file MARKER
when torch loads it (torch.load(weights_only=True) in torch 1.13 hands
TorchScript archives to torch.jit.load, which runs it). With CORRUPT.pth,
also writes a seeded resnet18 state_dict (10 classes) with one byte of a
weight record flipped, so that its zip CRC is wrong. The tests hand both
to gozoo, which must refuse them without the marker appearing."""

import sys
from typing import Tuple

import torch
import torchvision


class Payload(torch.nn.Module):
    def __init__(self, marker: str):
        super().__init__()
        self.marker = marker
        self.w = torch.zeros(1)

    def forward(self, x):
        return x

    @torch.jit.export
    def __getstate__(self) -> Tuple[str, torch.Tensor, bool]:
        return (self.marker, self.w, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[str, torch.Tensor, bool]) -> None:
        self.marker = state[0]
        self.training = state[2]
        # Creates (and writes) the marker file: code run from the archive.
        # Kept in self.w so that the compiler cannot drop it as dead code.
        self.w = torch.from_file(self.marker, shared=True, size=8, dtype=torch.uint8).fill_(65).float() + state[1].sum()


out, marker = sys.argv[1], sys.argv[2]
torch.jit.save(torch.jit.script(Payload(marker)), out)

if len(sys.argv) > 3:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10)
    torch.save(net.state_dict(), sys.argv[3])
    data = bytearray(open(sys.argv[3], "rb").read())
    # The first weight record's bytes: flip one in the middle of it.
    key = b"data/0"
    at = data.find(key)
    assert at > 0
    # A local file header's data starts after its name and extra field.
    import struct
    hdr = data.rfind(b"PK\x03\x04", 0, at)
    name_len, extra_len = struct.unpack("<HH", data[hdr + 26:hdr + 30])
    start = hdr + 30 + name_len + extra_len
    data[start + 100] ^= 0xFF
    open(sys.argv[3], "wb").write(bytes(data))
