"""PyTorch eager peer of gozoo's bench: images/s of a torchvision backbone.

Prints one JSON line: {"images_per_sec": ..., "torch": "..."}.
Run by internal/bench; usable alone:
  python3 torch_eager.py --arch resnet50 --layer avgpool --batch 8 --size 224 --threads 2 --seconds 10
"""
import argparse
import json
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--layer", default="avgpool")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)().eval()
    # Stop the forward pass at the requested layer, as a feature extractor
    # would, so both sides do the same work.
    feats = {}

    class Stop(Exception):
        pass

    def hook(_m, _i, out):
        feats["out"] = out
        raise Stop

    dict(model.named_modules())[a.layer].register_forward_hook(hook)
    x = torch.randn(a.batch, 3, a.size, a.size)

    def run():
        try:
            model(x)
        except Stop:
            pass
        return feats["out"]

    with torch.inference_mode():
        for _ in range(a.warmup):
            run()
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < a.seconds:
            run()
            n += 1
        dt = time.perf_counter() - t0
    print(json.dumps({"images_per_sec": n * a.batch / dt, "iters": n, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
