"""The PyTorch peer of gozoo's end-to-end image benchmark, and its inputs.

  torch_folder.py make DIR N WEIGHTS
      writes N JPEGs (quality 90, 4:2:0) into DIR/photos/, made from
      scikit-image's photos (chelsea, coffee, astronaut, rocket, ...; public
      domain / CC0) by random crops and scales to ImageNet-like sizes
      (300-640 px a side), and a seeded random resnet50 state_dict to WEIGHTS.
  torch_folder.py run DIR WEIGHTS --threads T --workers W --batch B --passes P
      times torchvision's ImageFolder(DIR, eval transform) + DataLoader
      (W workers) + resnet50 eager avgpool; prints JSON
      {"images_per_sec": ..., "torch": version}.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image


def make(out, n, weights):
    import skimage
    data = os.path.join(os.path.dirname(skimage.__file__), "data")
    names = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg"]
    srcs = [Image.open(os.path.join(data, f)).convert("RGB") for f in names if os.path.exists(os.path.join(data, f))]
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(out, "photos"), exist_ok=True)
    for i in range(n):
        im = srcs[i % len(srcs)]
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.uniform(0, w - cw)), int(rng.uniform(0, h - ch))
        c = im.crop((x, y, x + cw, y + ch))
        s = rng.uniform(300, 640) / max(c.size)
        c = c.resize((max(1, int(c.size[0] * s)), max(1, int(c.size[1] * s))), Image.BICUBIC)
        c.save(os.path.join(out, "photos", "%04d.jpg" % i), quality=90)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50(weights=None).eval().state_dict(), weights)


def run(folder, weights, threads, workers, batch, passes):
    torch.set_num_threads(threads)
    from torchvision import transforms as T
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = torchvision.datasets.ImageFolder(folder, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers)
    model = torchvision.models.resnet50(weights=None)
    model.load_state_dict(torch.load(weights))
    model.fc = torch.nn.Identity()  # the output is avgpool, flattened
    model.eval()
    with torch.no_grad():
        model(torch.zeros(batch, 3, 224, 224))  # warm up
        n = 0
        start = time.perf_counter()
        for _ in range(passes):
            for x, _ in dl:
                model(x)
                n += len(x)
        secs = time.perf_counter() - start
    print(json.dumps({"images_per_sec": n / secs, "torch": torch.__version__}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("dir")
        p.add_argument("weights")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--batch", type=int, default=8)
        p.add_argument("--passes", type=int, default=2)
        a = p.parse_args()
        run(a.dir, a.weights, a.threads, a.workers, a.batch, a.passes)
