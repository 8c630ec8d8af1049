"""Safetensors files as torch tensors.

gozoo_plugin.safetensors parses and checks a file (no code from it runs);
this module turns the byte ranges it checked into tensors, and tensors
into a file.
"""

import torch

from gozoo_plugin import safetensors as _st
from gozoo_plugin.errors import Unsupported
from gozoo_plugin.safetensors import write_bytes  # noqa: F401 (train.py writes through it)

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read(path):
    """Returns (tensors, metadata) from the safetensors file at path:
    tensors is a dict in the header's order, metadata the __metadata__
    strings ({} when absent). Raises gozoo_plugin.Weights naming the
    problem when the file is not a well-formed safetensors file."""
    entries, data, meta = _st.parse(path)
    out = {}
    for name, dt, shape, begin, end in entries:
        n = (end - begin) // _st.WIDTHS[dt]
        if n == 0:
            out[name] = torch.empty(shape, dtype=_DTYPES[dt])
        else:
            out[name] = torch.frombuffer(data, dtype=_DTYPES[dt], count=n, offset=begin).reshape(shape)
    return out, meta


def _raw(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    elif t.dtype == torch.bool:
        t = t.view(torch.uint8)
    return t.numpy().tobytes()


def dumps(tensors, metadata=None):
    """Returns the safetensors bytes of tensors (a dict of name -> tensor,
    written in its order) with metadata (strings) as __metadata__."""
    raw = []
    for name, t in tensors.items():
        dt = _NAMES.get(t.dtype)
        if dt is None:
            raise Unsupported("safetensors: tensor %r has dtype %s, which safetensors does not hold" % (name, t.dtype))
        raw.append((name, dt, list(t.shape), _raw(t)))
    return _st.dumps_raw(raw, metadata)
