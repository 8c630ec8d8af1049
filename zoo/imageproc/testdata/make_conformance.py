"""Writes torchvision's preprocessing of real photos, the oracle of
imageproc's conformance test.

Usage: make_conformance.py OUTDIR [--resnet50]

Photos come from Debian's python3-skimage (chelsea.png, coffee.png,
rocket.jpg: public domain / CC0) plus variants made from them with PIL: a
grayscale PNG (camera.png), odd-sized crops saved as PNG and as 4:2:0 and
4:2:2 JPEGs, a palette PNG, an RGBA PNG, a CMYK JPEG and a BMP. For each
image and each interpolation (bilinear, bicubic) OUTDIR gets
<image>.<interp>.bin: raw little-endian float32 [3, 224, 224] of
Resize(256, interp) -> CenterCrop(224) -> ToTensor -> Normalize(ImageNet)
on Image.open(path).convert("RGB"), exactly torchvision's ImageFolder
loader. meta.json lists the images and interpolations.

With --resnet50 it also saves a seeded random resnet50 (resnet50.pth, with
randomised BatchNorm statistics) and avgpool.<interp>.bin: its avgpool
features [N, 2048] for the stacked bilinear/bicubic batches, in the order
of meta.json's images.

testdata/tiny.jpg (the unit tests' small JPEG) was made with PIL:
Image.open(skimage/data/chelsea.png).convert("RGB").resize((45, 30)).save("tiny.jpg", quality=80)
"""
import json
import os
import shutil
import sys

import numpy as np
import skimage
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
data = os.path.join(os.path.dirname(skimage.__file__), "data")

images = []


def keep(name):
    images.append(name)


for n in ["chelsea.png", "coffee.png", "rocket.jpg", "camera.png"]:
    shutil.copy(os.path.join(data, n), os.path.join(out, n))
    keep(n)
chelsea = Image.open(os.path.join(data, "chelsea.png")).convert("RGB")
coffee = Image.open(os.path.join(data, "coffee.png")).convert("RGB")
odd = chelsea.crop((13, 7, 13 + 301, 7 + 187))  # 301x187: odd sizes
odd.save(os.path.join(out, "odd.png"))
keep("odd.png")
odd.save(os.path.join(out, "odd420.jpg"), quality=90, subsampling=2)
keep("odd420.jpg")
coffee.crop((0, 0, 333, 251)).save(os.path.join(out, "odd422.jpg"), quality=85, subsampling=1)
keep("odd422.jpg")
chelsea.save(os.path.join(out, "chelsea444.jpg"), quality=95, subsampling=0)
keep("chelsea444.jpg")
coffee.crop((50, 50, 263, 401)).save(os.path.join(out, "tall.bmp"))  # portrait
keep("tall.bmp")
chelsea.quantize(64).save(os.path.join(out, "palette.png"))
keep("palette.png")
rgba = coffee.copy()
rgba.putalpha(Image.linear_gradient("L").resize(coffee.size))
rgba.save(os.path.join(out, "rgba.png"))
keep("rgba.png")
chelsea.convert("CMYK").save(os.path.join(out, "cmyk.jpg"), quality=92)
keep("cmyk.jpg")
chelsea.resize((100, 67), Image.BICUBIC).save(os.path.join(out, "small.png"))  # upscaled
keep("small.png")

interps = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}
norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
batches = {}
for iname, mode in interps.items():
    tf = T.Compose([T.Resize(256, interpolation=mode), T.CenterCrop(224), T.ToTensor(), norm])
    xs = []
    for n in images:
        with open(os.path.join(out, n), "rb") as f:
            img = Image.open(f).convert("RGB")
        x = tf(img)
        x.numpy().astype("<f4").tofile(os.path.join(out, "%s.%s.bin" % (n, iname)))
        xs.append(x)
    batches[iname] = torch.stack(xs)

if "--resnet50" in sys.argv:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.2, 0.6)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    torch.save(model.state_dict(), os.path.join(out, "resnet50.pth"))
    feats = {}
    model.avgpool.register_forward_hook(lambda m, i, o: feats.__setitem__("avgpool", o.flatten(1).clone()))
    with torch.no_grad():
        for iname, x in batches.items():
            model(x)
            feats["avgpool"].numpy().astype("<f4").tofile(os.path.join(out, "avgpool.%s.bin" % iname))

with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump({"images": images, "interpolations": list(interps)}, f)
