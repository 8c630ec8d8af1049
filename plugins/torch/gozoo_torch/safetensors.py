"""Reading and writing .safetensors files with torch alone.

A safetensors file is an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, and the raw tensor bytes.
Reading one runs no code from the file (no pickle, no TorchScript): the
header is checked as the reference implementation and gozoo's Go bridge
check it (size limit, byte ranges that match shape and dtype, inside the
file, without overlaps or gaps) before any byte becomes a tensor.
"""

import json
import os
import struct
import sys

import torch

from .errors import GozooError

# The reference implementation's header limit (100 MB).
MAX_HEADER = 100_000_000

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


def _bad(path, msg):
    return GozooError("WEIGHTS", "weights %s: %s" % (path, msg))


def read(path):
    """Returns (tensors, metadata) from the safetensors file at path:
    tensors is a dict in the header's order, metadata the __metadata__
    strings ({} when absent). Raises GozooError (WEIGHTS) naming the
    problem when the file is not a well-formed safetensors file."""
    if sys.byteorder != "little":
        raise GozooError("UNSUPPORTED", "safetensors: this plugin reads little-endian files on little-endian machines only")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise _bad(path, "%d bytes is shorter than a safetensors header: re-save or re-download it" % size)
            (hlen,) = struct.unpack("<Q", f.read(8))
            if hlen > MAX_HEADER:
                raise _bad(path, "safetensors header length %d exceeds the %d byte limit" % (hlen, MAX_HEADER))
            if hlen > size - 8:
                raise _bad(path, "safetensors header of %d bytes runs past the end of the %d byte file: re-download it" % (hlen, size))
            header = f.read(hlen)
            data = bytearray(size - 8 - hlen)
            if f.readinto(data) != len(data):
                raise _bad(path, "the file shrank while it was read")
    except FileNotFoundError:
        raise GozooError("WEIGHTS", "weights %s: no such file" % path)
    except IsADirectoryError:
        raise GozooError("WEIGHTS", "weights %s: is a folder; want a .safetensors file" % path)
    except OSError as e:
        raise GozooError("WEIGHTS", "weights %s: %s" % (path, e))
    try:
        h = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _bad(path, "safetensors header is not JSON (%s): the file is not a safetensors file or is damaged" % e)
    if not isinstance(h, dict):
        raise _bad(path, "safetensors header is not a JSON object")
    meta = h.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _bad(path, "safetensors __metadata__ must map strings to strings")
    entries = []
    for name, e in h.items():
        if not isinstance(e, dict) or set(e) - {"dtype", "shape", "data_offsets"}:
            raise _bad(path, "safetensors entry %r: want dtype, shape and data_offsets" % name)
        dt = _DTYPES.get(e.get("dtype"))
        if dt is None:
            raise _bad(path, "safetensors tensor %r has dtype %r; this plugin reads %s" % (name, e.get("dtype"), ", ".join(_DTYPES)))
        shape, offs = e.get("shape"), e.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offs) or offs[0] > offs[1]):
            raise _bad(path, "safetensors tensor %r: shape %r or data_offsets %r are malformed" % (name, shape, offs))
        n = 1
        for d in shape:
            n *= d
        width = torch.tensor([], dtype=dt).element_size()
        if offs[1] - offs[0] != n * width:
            raise _bad(path, "safetensors tensor %r of shape %s and dtype %s needs %d bytes; its range holds %d" % (
                name, shape, e["dtype"], n * width, offs[1] - offs[0]))
        entries.append((offs[0], offs[1], name, dt, shape, n))
    at, prev = 0, None
    for begin, end, name, _, _, _ in sorted(entries, key=lambda x: x[0]):
        if end > len(data):
            raise _bad(path, "safetensors tensor %r ends at byte %d, past the %d data bytes: the file is truncated or damaged" % (name, end, len(data)))
        if begin < at:
            raise _bad(path, "safetensors tensors %r and %r overlap" % (prev, name))
        if begin > at:
            raise _bad(path, "safetensors data has unused bytes [%d, %d) before tensor %r" % (at, begin, name))
        at, prev = end, name
    if at != len(data):
        raise _bad(path, "safetensors data has %d bytes after its last tensor" % (len(data) - at))
    out = {}
    for begin, end, name, dt, shape, n in entries:
        if n == 0:
            t = torch.empty(shape, dtype=dt)
        else:
            t = torch.frombuffer(data, dtype=dt, count=n, offset=begin).reshape(shape)
        out[name] = t
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
    h = {}
    if metadata:
        h["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, off = [], 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise GozooError("BAD_INPUT", "safetensors: a tensor may not be named __metadata__")
        dt = _NAMES.get(t.dtype)
        if dt is None:
            raise GozooError("UNSUPPORTED", "safetensors: tensor %r has dtype %s, which safetensors does not hold" % (name, t.dtype))
        b = _raw(t)
        h[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header = json.dumps(h, separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)
    return b"".join([struct.pack("<Q", len(header)), header] + blobs)


def write_bytes(path, data):
    """Writes data to path through a temporary name, synced, then renamed,
    so that path holds either the old file or the whole new one."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
