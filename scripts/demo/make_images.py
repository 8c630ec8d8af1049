"""Writes the demo images that ship with gozoo into scripts/demo/images/.

Usage: /usr/bin/python3 scripts/demo/make_images.py scripts/demo/images

  photos/        five photos from Debian's python3-skimage, downscaled to
                 at most 320 px and saved as JPEG (camera stays a grayscale
                 PNG): chelsea (CC0, Stefan van der Walt), coffee (CC0,
                 Rachel Michetti), camera (CC0, Lav Varshney), astronaut
                 (NASA, public domain), rocket (SpaceX, public domain).
  fashion/CLASS/ three Fashion-MNIST test images per class as 28x28 PNGs
                 (Debian's dataset-fashion-mnist, MIT licence), an
                 ImageFolder tree for the embedded fashion model.
"""
import gzip
import os
import sys

import numpy as np
import skimage
from PIL import Image

out = sys.argv[1]
data = os.path.join(os.path.dirname(skimage.__file__), "data")
os.makedirs(os.path.join(out, "photos"), exist_ok=True)
for name in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "camera.png"]:
    im = Image.open(os.path.join(data, name))
    im.thumbnail((320, 320), Image.LANCZOS)
    base = os.path.splitext(name)[0]
    if im.mode == "L":
        im.save(os.path.join(out, "photos", base + ".png"), optimize=True)
    else:
        im.convert("RGB").save(os.path.join(out, "photos", base + ".jpg"), quality=85)

CLASSES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
src = "/usr/share/datasets/fashion-mnist"
with gzip.open(os.path.join(src, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(os.path.join(src, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
for c, name in enumerate(CLASSES):
    d = os.path.join(out, "fashion", "%d_%s" % (c, name))
    os.makedirs(d, exist_ok=True)
    for k, i in enumerate(np.nonzero(labels == c)[0][:3]):
        Image.fromarray(images[i]).save(os.path.join(d, "t10k_%05d.png" % i))
