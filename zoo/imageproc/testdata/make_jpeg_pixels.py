"""Writes JPEG variants and PIL's decoded pixels of each, the oracle of
imageproc's TestDecodeJPEGMatchesPIL.

Usage: make_jpeg_pixels.py OUTDIR

From skimage's chelsea.png (public domain) at an odd size, OUTDIR gets
<name>.jpg and <name>.rgb, the raw 8-bit RGB of
Image.open(<name>.jpg).convert("RGB") (PIL decodes with the system libjpeg),
for baseline 4:4:4, 4:2:2 and 4:2:0, progressive, Huffman-optimised,
grayscale and (Adobe-inverted) CMYK JPEGs. names.txt lists the names.
"""
import os
import sys

import skimage
from PIL import Image

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
src = Image.open(os.path.join(os.path.dirname(skimage.__file__), "data", "chelsea.png")).convert("RGB")
img = src.crop((5, 3, 5 + 157, 3 + 101))  # 157x101: odd sizes, partial MCUs

variants = {
    "s444": (img, dict(quality=95, subsampling=0)),
    "s422": (img, dict(quality=85, subsampling=1)),
    "s420": (img, dict(quality=75, subsampling=2)),
    "progressive": (img, dict(quality=80, progressive=True)),
    "optimized": (img, dict(quality=60, optimize=True, subsampling=2)),
    "gray": (img.convert("L"), dict(quality=90)),
    "cmyk": (img.convert("CMYK"), dict(quality=90)),
}
for name, (im, kw) in variants.items():
    path = os.path.join(out, name + ".jpg")
    im.save(path, **kw)
    with Image.open(path) as f:
        rgb = f.convert("RGB")
    with open(os.path.join(out, name + ".rgb"), "wb") as f:
        f.write(rgb.tobytes())
with open(os.path.join(out, "names.txt"), "w") as f:
    f.write("\n".join(variants) + "\n")
