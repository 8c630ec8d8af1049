"""numpy side of internal/npy's tests.

usage: numpy_files.py write DIR   writes numpy-made .npy/.npz files into DIR
                                  and prints a JSON manifest of their
                                  contents (C-order values, shape, dtype)
       numpy_files.py load FILE.. prints a JSON description of each .npy or
                                  .npz file as numpy.load sees it
"""
import json
import os
import sys

import numpy as np


def describe(a):
    a = np.asarray(a)
    return {"dtype": a.dtype.str, "shape": list(a.shape),
            "fortran": bool(a.flags.f_contiguous and not a.flags.c_contiguous),
            "values": [repr(float(v)) for v in np.ascontiguousarray(a).ravel()]}


def write(d):
    rng = np.random.default_rng(7)
    base = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ints = rng.integers(-1000, 1000, size=(3, 5))
    cases = {
        "f4": base,
        "f8": base.astype(np.float64),
        "f2": base.astype(np.float16),
        "f4_be": base.astype(">f4"),
        "f8_be": base.astype(">f8"),
        "f4_fortran": np.asfortranarray(base),
        "f4_fortran_2d": np.asfortranarray(base[0]),
        "f4_scalar": np.array(3.5, np.float32),
        "f4_empty": np.zeros((0, 3), np.float32),
        "f4_1d": base.ravel(),
        "i8": ints.astype(np.int64),
        "i8_be": ints.astype(">i8"),
        "i8_fortran": np.asfortranarray(ints.astype(np.int64)),
        "i4": ints.astype(np.int32),
        "i2": ints.astype(np.int16),
        "i1": (ints % 100).astype(np.int8),
        "u1": (np.abs(ints) % 256).astype(np.uint8),
        "u2": np.abs(ints).astype(np.uint16),
        "u4": np.abs(ints).astype(np.uint32),
        "b1": ints > 0,
        "f2_special": np.array([0.0, -0.0, 1e-7, 65504, np.inf, -np.inf, 6e-5], np.float16),
    }
    manifest = {"npy": {}, "bad": {}, "npz": {}}
    for name, a in cases.items():
        np.save(os.path.join(d, name + ".npy"), a)
        manifest["npy"][name] = describe(a)
    bad = {
        "c8": np.zeros(3, np.complex64),
        "u8": np.zeros(3, np.uint64),
        "str": np.array(["ab", "c"]),
        "struct": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i8")]),
        "obj": np.array([1, "a"], dtype=object),
    }
    for name, a in bad.items():
        np.save(os.path.join(d, "bad_" + name + ".npy"), a, allow_pickle=True)
        manifest["bad"][name] = a.dtype.str
    arrays = {"first": base, "second": ints.astype(np.int64), "third": np.array(2.0, np.float32)}
    np.savez(os.path.join(d, "plain.npz"), **arrays)
    np.savez_compressed(os.path.join(d, "compressed.npz"), **arrays)
    manifest["npz"] = {k: describe(v) for k, v in arrays.items()}
    manifest["npz_order"] = list(arrays)
    json.dump(manifest, sys.stdout)


def load(paths):
    out = {}
    for p in paths:
        if p.endswith(".npz"):
            with np.load(p) as z:
                out[p] = {"files": list(z.files), "arrays": {k: describe(z[k]) for k in z.files}}
        else:
            out[p] = describe(np.load(p))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "load":
        load(sys.argv[2:])
    else:
        sys.exit(__doc__)
