"""Tensors and name patterns on the plugin wire.

Tensors travel as TensorChunk messages: dtype, shape and a byte range of
the dense row-major little-endian elements (internal/backbonev1/tensor.go).
"""

import re

import numpy as np

from .errors import BadInput, Unsupported
from .pb import backbone_pb2 as pb

# Largest payload of one chunk, as backbonev1.ChunkBytes.
CHUNK_BYTES = 2 << 20

# Largest tensor one message stream may build.
MAX_TENSOR_BYTES = 8 << 30

_DTYPES = {pb.DTYPE_FLOAT32: np.dtype("<f4"), pb.DTYPE_INT64: np.dtype("<i8")}


class Assembler:
    """Rebuilds one tensor from chunks that arrive in order."""

    def __init__(self):
        self.buf = None
        self.have = 0
        self.shape = None
        self.dtype = None

    def add(self, chunk):
        """Adds a chunk; returns the finished numpy array (float32 or
        int64, native byte order, writable) or None."""
        if "file" in chunk.DESCRIPTOR.fields_by_name and chunk.HasField("file"):
            # The plugin never advertises Transport.shared_files.
            raise Unsupported("tensor passed as a file: this plugin takes inline chunks only")
        if chunk.dtype not in _DTYPES:
            raise BadInput("tensor dtype %d: send float32 or int64" % chunk.dtype)
        shape = tuple(chunk.shape)
        if any(d < 0 for d in shape):
            raise BadInput("tensor shape %s has a negative dimension" % (list(shape),))
        dt = _DTYPES[chunk.dtype]
        if self.buf is None:
            size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
            if size > MAX_TENSOR_BYTES:
                raise BadInput("tensor of %d bytes is too large: send smaller batches" % size)
            self.buf = bytearray(size)
            self.shape, self.dtype = shape, dt
        elif shape != self.shape or dt != self.dtype:
            raise BadInput("tensor chunks disagree on dtype or shape")
        if chunk.offset != self.have or self.have + len(chunk.data) > len(self.buf):
            raise BadInput("tensor chunk at offset %d of %d bytes does not follow byte %d of %d" % (
                chunk.offset, len(chunk.data), self.have, len(self.buf)))
        self.buf[self.have:self.have + len(chunk.data)] = chunk.data
        self.have += len(chunk.data)
        if self.have < len(self.buf):
            return None
        arr = np.frombuffer(self.buf, dtype=self.dtype).reshape(self.shape)
        out = arr.astype(self.dtype.newbyteorder("="), copy=True)
        self.buf = None
        self.have = 0
        return out


def chunks(name, arr):
    """Yields the TensorChunk messages of arr, any array-like: int64 stays
    int64, every other dtype travels as float32."""
    arr = np.asarray(arr)
    if arr.dtype == np.int64:
        dt, arr = pb.DTYPE_INT64, arr.astype("<i8", copy=False)
    else:
        dt, arr = pb.DTYPE_FLOAT32, arr.astype("<f4", copy=False)
    data = np.ascontiguousarray(arr).tobytes()
    shape = list(arr.shape)
    off = 0
    while True:
        end = min(off + CHUNK_BYTES, len(data))
        yield pb.TensorChunk(name=name, dtype=dt, shape=shape, offset=off, data=data[off:end])
        if end == len(data):
            return
        off = end


def compile_pattern(pattern):
    """Compiles a glob as sdk.MatchPattern reads it (path.Match with '*'
    spanning dots); a malformed pattern is BAD_INPUT."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\":
            if i + 1 >= n:
                raise _bad(pattern)
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            cls = []
            if j < n and pattern[j] == "^":
                cls.append("^")
                j += 1
            first = True
            while True:
                if j >= n:
                    raise _bad(pattern)
                if pattern[j] == "]" and not first:
                    break
                first = False
                lo = pattern[j]
                if lo == "\\":
                    j += 1
                    if j >= n:
                        raise _bad(pattern)
                    lo = pattern[j]
                elif lo in "[]" and lo == "]":
                    raise _bad(pattern)
                j += 1
                if j + 1 < n and pattern[j] == "-" and pattern[j + 1] != "]":
                    hi = pattern[j + 1]
                    j += 2
                    if hi == "\\":
                        if j >= n:
                            raise _bad(pattern)
                        hi = pattern[j]
                        j += 1
                    if hi < lo:
                        raise _bad(pattern)
                    cls.append(re.escape(lo) + "-" + re.escape(hi))
                else:
                    cls.append(re.escape(lo))
            if len(cls) == 0 or cls == ["^"]:
                raise _bad(pattern)
            out.append("[" + "".join(cls) + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _bad(pattern):
    return BadInput("pattern %r: syntax error in pattern: write globs such as layer4.* or fc.*" % pattern)
