"""Applies torchvision's train augmentations to images, the oracle of
imageproc's augmentation test.

Usage: make_augment.py DIR

DIR/cases.json (written by the Go test) holds "mean", "std" and two lists:

"fixed": cases with every random choice given: image (path), size [H, W],
interp, grayscale, resize (the eval path's Resize size) and crop
[top, left, height, width] or null for Resize + CenterCrop, flip, angle,
brightness, contrast, saturation, hue and order (ColorJitter's order).
Each is applied with torchvision.transforms.functional, in torchvision's
usual pipeline order: [rgb_to_grayscale(3)] -> resized_crop (or resize +
center_crop) -> hflip -> rotate (RandomRotation's defaults: nearest,
expand=False, centre, fill 0) -> adjust_brightness / adjust_contrast /
adjust_saturation / adjust_hue in the given order (hue 0 skips adjust_hue,
as ColorJitter does when hue is off) -> to_tensor -> normalize.

"seeded": cases run through the torchvision.transforms classes themselves,
Compose([RandomResizedCrop(size, scale, ratio, interp),
RandomHorizontalFlip(flip), RandomRotation(rotate), ColorJitter(b, c, s, h),
ToTensor(), Normalize]) after torch.manual_seed(seed); the parameters they
draw are recorded (by wrapping their get_params and F.hflip) into
DIR/seeded.json, so that the Go side applies the same draw.

Each case's output is DIR/<name>.npy: float32 [3, H, W], the image loaded
as torchvision's ImageFolder does (Image.open(path).convert("RGB")).
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

out = sys.argv[1]
with open(os.path.join(out, "cases.json")) as f:
    spec = json.load(f)
mean, std = spec["mean"], spec["std"]
modes = {
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
    "nearest": T.InterpolationMode.NEAREST,
}


def load(path):
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def save(name, x):
    np.save(os.path.join(out, name + ".npy"), x.numpy().astype("<f4"))


for c in spec["fixed"]:
    img = load(c["image"])
    mode = modes[c["interp"]]
    if c["grayscale"]:
        img = F.rgb_to_grayscale(img, num_output_channels=3)
    if c["crop"] is not None:
        top, left, h, w = c["crop"]
        img = F.resized_crop(img, top, left, h, w, c["size"], mode)
    else:
        if c["resize"]:
            img = F.resize(img, c["resize"], mode)
        img = F.center_crop(img, c["size"])
    if c["flip"]:
        img = F.hflip(img)
    img = F.rotate(img, c["angle"])
    for op in c["order"]:
        if op == 0:
            img = F.adjust_brightness(img, c["brightness"])
        elif op == 1:
            img = F.adjust_contrast(img, c["contrast"])
        elif op == 2:
            img = F.adjust_saturation(img, c["saturation"])
        elif op == 3 and c["hue"] != 0:
            img = F.adjust_hue(img, c["hue"])
    save(c["name"], F.normalize(F.to_tensor(img), mean, std))

# The seeded cases: record what the transform classes draw.
record = {}


def spy(cls, key, pack):
    orig = cls.get_params

    def get_params(*args):
        r = orig(*args)
        record[key] = pack(r)
        return r

    cls.get_params = staticmethod(get_params)


spy(T.RandomResizedCrop, "crop", lambda r: [int(v) for v in r])
spy(T.RandomRotation, "angle", float)
spy(
    T.ColorJitter,
    "jitter",
    lambda r: {
        "order": [int(i) for i in r[0]],
        "factors": [1.0 if r[1] is None else r[1], 1.0 if r[2] is None else r[2],
                    1.0 if r[3] is None else r[3], 0.0 if r[4] is None else r[4]],
    },
)
hflip = F.hflip


def spy_hflip(img):
    record["flip"] = True
    return hflip(img)


F.hflip = spy_hflip

drawn = {}
for c in spec["seeded"]:
    tf = T.Compose([
        T.RandomResizedCrop(c["size"], scale=c["scale"], ratio=c["ratio"], interpolation=modes[c["interp"]]),
        T.RandomHorizontalFlip(c["flip"]),
        T.RandomRotation(c["rotate"]),
        T.ColorJitter(*c["jitter"]),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])
    record.clear()
    record["flip"] = False
    torch.manual_seed(c["seed"])
    x = tf(load(c["image"]))
    save(c["name"], x)
    drawn[c["name"]] = dict(record)

with open(os.path.join(out, "seeded.json"), "w") as f:
    json.dump(drawn, f)
