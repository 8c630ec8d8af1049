"""Reading and writing .safetensors files without running code.

A safetensors file is an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, and the raw tensor bytes.
Reading one runs no code from the file (no pickle): parse checks the
header as the reference implementation and gozoo's Go bridge check it
(size limit, byte ranges that match shape and dtype, inside the file,
without overlaps or gaps) before any byte becomes a tensor. read returns
numpy arrays; a plugin on another array library builds its tensors from
parse's byte ranges.
"""

import json
import os
import struct
import sys

import numpy as np

from .errors import BadInput, Unsupported, Weights

# The reference implementation's header limit (100 MB).
MAX_HEADER = 100_000_000

# dtype name -> bytes per element.
WIDTHS = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

# dtype name -> numpy dtype; BF16 has none (read widens it to float32).
_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def _bad(path, msg):
    return Weights("weights %s: %s" % (path, msg))


def parse(path):
    """Returns (entries, data, metadata) of the safetensors file at path:
    entries lists (name, dtype name, shape, begin, end) in the header's
    order, begin and end being offsets into data (a bytearray);
    metadata holds the __metadata__ strings ({} when absent). Raises
    Weights naming the problem when the file is not a well-formed
    safetensors file."""
    if sys.byteorder != "little":
        raise Unsupported("safetensors: this plugin reads little-endian files on little-endian machines only")
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
        raise Weights("weights %s: no such file" % path)
    except IsADirectoryError:
        raise Weights("weights %s: is a folder; want a .safetensors file" % path)
    except OSError as e:
        raise Weights("weights %s: %s" % (path, e))
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
        dt = e.get("dtype")
        if dt not in WIDTHS:
            raise _bad(path, "safetensors tensor %r has dtype %r; this plugin reads %s" % (name, dt, ", ".join(WIDTHS)))
        shape, offs = e.get("shape"), e.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offs) or offs[0] > offs[1]):
            raise _bad(path, "safetensors tensor %r: shape %r or data_offsets %r are malformed" % (name, shape, offs))
        n = 1
        for d in shape:
            n *= d
        if offs[1] - offs[0] != n * WIDTHS[dt]:
            raise _bad(path, "safetensors tensor %r of shape %s and dtype %s needs %d bytes; its range holds %d" % (
                name, shape, dt, n * WIDTHS[dt], offs[1] - offs[0]))
        entries.append((name, dt, shape, offs[0], offs[1]))
    at, prev = 0, None
    for name, _, _, begin, end in sorted(entries, key=lambda x: x[3]):
        if end > len(data):
            raise _bad(path, "safetensors tensor %r ends at byte %d, past the %d data bytes: the file is truncated or damaged" % (name, end, len(data)))
        if begin < at:
            raise _bad(path, "safetensors tensors %r and %r overlap" % (prev, name))
        if begin > at:
            raise _bad(path, "safetensors data has unused bytes [%d, %d) before tensor %r" % (at, begin, name))
        at, prev = end, name
    if at != len(data):
        raise _bad(path, "safetensors data has %d bytes after its last tensor" % (len(data) - at))
    return entries, data, meta


def read(path):
    """Returns (arrays, metadata) from the safetensors file at path: arrays
    is a dict of numpy arrays in the header's order (BF16 widened exactly
    to float32), metadata the __metadata__ strings. Raises Weights when the
    file is not a well-formed safetensors file."""
    entries, data, meta = parse(path)
    out = {}
    for name, dt, shape, begin, end in entries:
        if dt == "BF16":
            bits = np.frombuffer(data, dtype="<u2", count=(end - begin) // 2, offset=begin)
            out[name] = (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape)
        else:
            a = np.frombuffer(data, dtype=_NUMPY[dt], count=(end - begin) // WIDTHS[dt], offset=begin)
            out[name] = a.astype(a.dtype.newbyteorder("="), copy=False).reshape(shape)
    return out, meta


def dumps_raw(tensors, metadata=None):
    """Returns the safetensors bytes of tensors, (name, dtype name, shape,
    raw little-endian bytes) in the order given, with metadata (strings)
    as __metadata__."""
    h = {}
    if metadata:
        h["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, off = [], 0
    for name, dt, shape, b in tensors:
        if name == "__metadata__":
            raise BadInput("safetensors: a tensor may not be named __metadata__")
        h[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header = json.dumps(h, separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)
    return b"".join([struct.pack("<Q", len(header)), header] + blobs)


def dumps(arrays, metadata=None):
    """Returns the safetensors bytes of arrays (a dict of name -> numpy
    array, written in its order) with metadata as __metadata__."""
    names = {np.dtype(v): k for k, v in _NUMPY.items()}
    raw = []
    for name, a in arrays.items():
        a = np.asarray(a)
        dt = names.get(a.dtype.newbyteorder("<")) or names.get(a.dtype)
        if dt is None:
            raise Unsupported("safetensors: array %r has dtype %s, which safetensors does not hold" % (name, a.dtype))
        raw.append((name, dt, a.shape, np.ascontiguousarray(a.astype(_NUMPY[dt], copy=False)).tobytes()))
    return dumps_raw(raw, metadata)


def write_bytes(path, data):
    """Writes data to path through a temporary name, synced, then renamed,
    so that path holds either the old file or the whole new one."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
