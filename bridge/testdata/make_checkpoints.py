"""Writes the checkpoints bridge's tests read, with PyTorch as the oracle.

Usage: make_checkpoints.py OUTDIR [--resnet]   (test time, into a temp dir)
       make_checkpoints.py --seeds DIR          (the small fuzz seeds kept in testdata/)

Each state_dict NAME comes with NAME.ref.json + NAME.ref.bin: every tensor,
made contiguous and converted by torch to float32 (floating dtypes) or int64
(integer and bool dtypes), as raw little-endian bytes, so the Go test can
compare every value bit for bit.
"""
import collections
import json
import os
import struct
import sys

import torch
import torch.nn as nn


def write_ref(out, name, sd):
    meta = {"keys": list(sd.keys()), "tensors": {}}
    off = 0
    with open(os.path.join(out, name + ".ref.bin"), "wb") as f:
        for k, v in sd.items():
            v = v.detach().contiguous()
            if v.is_floating_point():
                v, dt = v.float(), "float32"
            else:
                v, dt = v.to(torch.int64), "int64"
            b = v.numpy().tobytes()
            f.write(b)
            meta["tensors"][k] = {"dtype": dt, "shape": list(v.shape), "offset": off, "nbytes": len(b)}
            off += len(b)
    with open(os.path.join(out, name + ".ref.json"), "w") as f:
        json.dump(meta, f)


def small_state_dict():
    torch.manual_seed(0)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4)
    f16 = torch.randn(7).half()
    f16[4:] = torch.tensor([float("inf"), -0.0, 1e-7])  # 1e-7 is subnormal in fp16
    sd["f16"] = f16
    sd["bf16"] = torch.randn(2, 3).bfloat16()
    sd["f64"] = torch.tensor([1.0 / 3.0, -2.5, 1e-40, 1e300], dtype=torch.float64)
    sd["i64"] = torch.arange(-3, 3, dtype=torch.int64) * 10**12
    sd["num_batches_tracked"] = torch.tensor(7)
    sd["i32"] = torch.tensor([-5, 7], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["flag"] = torch.tensor([True, False])
    sd["transposed"] = torch.randn(4, 6).t()
    sd["sliced"] = torch.randn(5, 6)[1:3, 2:5]
    shared = torch.randn(10)
    sd["shared_a"] = shared[:6].view(2, 3)
    sd["shared_b"] = shared[4:]
    sd["expanded"] = torch.randn(3).expand(2, 3)
    sd["half_t"] = torch.randn(3, 2).half().t()
    sd["param"] = nn.Parameter(torch.randn(3))
    sd["empty"] = torch.zeros(0, 3)
    assert not sd["transposed"].is_contiguous() and sd["sliced"].storage_offset() > 0
    return sd


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors format by hand (the package is not installed)."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.float64: "F64", torch.int64: "I64"}
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k, v in tensors.items():
        v = v.detach().contiguous()
        # bfloat16 has no numpy dtype: take its bits through int16.
        b = (v.view(torch.int16) if v.dtype == torch.bfloat16 else v).numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ("touch " + self.path,))


def main():
    args = sys.argv[1:]
    if args[:1] == ["--seeds"]:
        out = args[1]
        sd = collections.OrderedDict()
        sd["w"] = torch.arange(6, dtype=torch.float32).view(2, 3).t()
        sd["h"] = torch.tensor([1.5, -2.0], dtype=torch.float16)
        sd["n"] = torch.tensor(3)
        torch.save(sd, os.path.join(out, "tiny.pth"))
        torch.save(sd, os.path.join(out, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)
        write_safetensors(os.path.join(out, "tiny.safetensors"),
                          {"w": sd["w"], "h": sd["h"], "n": sd["n"]}, {"format": "pt"})
        return
    out = args[0]
    sd = small_state_dict()
    write_ref(out, "small", sd)
    torch.save(sd, os.path.join(out, "plain.pth"))
    torch.save(sd, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "best_acc": 0.5, "arch": "small", "blob": b"\x00\xffab",
                "state_dict": sd}, os.path.join(out, "wrapped_state_dict.pth"))
    p = nn.Parameter(torch.randn(2))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(2)
    opt.step()
    torch.save({"model": sd, "optimizer": opt.state_dict()}, os.path.join(out, "wrapped_model.pth"))
    torch.save({"model": sd, "optimizer": opt.state_dict()}, os.path.join(out, "wrapped_model_legacy.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
               os.path.join(out, "module.pth"))
    torch.save({"weight": torch.zeros(2), "evil": Evil(os.path.join(out, "pwned"))},
               os.path.join(out, "malicious.pth"))
    torch.save({"weight": torch.zeros(2), "evil": Evil(os.path.join(out, "pwned"))},
               os.path.join(out, "malicious_legacy.pth"), _use_new_zipfile_serialization=False)
    st = collections.OrderedDict((k, sd[k]) for k in ["f32", "f16", "bf16", "f64", "i64", "transposed", "empty"])
    write_safetensors(os.path.join(out, "hand.safetensors"), st, {"format": "pt", "note": "hand-written"})
    write_ref(out, "hand", st)

    if "--resnet" in args:
        import torchvision
        torch.manual_seed(0)
        r18 = torchvision.models.resnet18().state_dict()
        torch.save(r18, os.path.join(out, "resnet18.pth"))
        write_ref(out, "resnet18", r18)
        with open(os.path.join(out, "resnet18.spec.json"), "w") as f:
            json.dump([{"Name": k, "Shape": list(v.shape)} for k, v in r18.items()], f)
        r50 = torchvision.models.resnet50().state_dict()
        with open(os.path.join(out, "resnet50.spec.json"), "w") as f:
            json.dump([{"Name": k, "Shape": list(v.shape)} for k, v in r50.items()], f)


if __name__ == "__main__":
    main()
