"""Prints what gozoo extract wrote in the demo: the photos' feature arrays
and index, and the embedded model's accuracy on the shipped Fashion-MNIST
images (argmax of its fc layer against the ImageFolder labels).

Usage: check_zoo.py PHOTOS.npz FASHION.safetensors
"""
import json
import struct
import sys

import numpy as np

z = np.load(sys.argv[1])
for k in z.files:
    print("  %-8s %-8s %s" % (k, z[k].dtype, z[k].shape))
print("  rows:", ", ".join(p.split("/")[-1] for p in z["path"]))

with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
fc = header["fc"]
a, b = fc["data_offsets"]
logits = np.frombuffer(data[a:b], "<f4").reshape(fc["shape"])
a, b = header["label"]["data_offsets"]
labels = np.frombuffer(data[a:b], "<i8")
acc = (logits.argmax(1) == labels).mean()
print("  fashion: %d images, fc %s, accuracy of argmax(fc) %.3f" % (len(labels), fc["shape"], acc))
