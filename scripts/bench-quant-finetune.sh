#!/usr/bin/env bash
# bench-quant-finetune.sh: accuracy of int8 on a ResNet-18 that gozoo
# fine-tunes on Fashion-MNIST (Debian's dataset-fashion-mnist) with the
# torch plugin, end to end through the CLI as a user runs it:
#   gozoo finetune (resnet18, 10 classes, 32x32 grayscale) -> best.pth
#   gozoo quantize --weights best.pth --calibrate TRAIN, each method -> int8 .onnx
#   gozoo eval fp32 and int8 on test images; avgpool cosine fp32 vs int8.
# It prints both top-1 accuracies, the drop in points and the cosine.
# Too slow for the test suite on two cores (minutes of training), so it
# lives here; sdk/quant's TestFashionMNISTAccuracy checks the embedded
# model in CI. Needs `make build` and PyTorch (make setup).
# Sizes: GOZOO_FT_TRAIN (training images per class, default 300),
# GOZOO_FT_TEST (test images, default 2000), GOZOO_FT_EPOCHS (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
gozoo=$PWD/bin/gozoo
python=${PYTHON:-/usr/bin/python3}
fmnist=/usr/share/datasets/fashion-mnist
train=${GOZOO_FT_TRAIN:-300}
test=${GOZOO_FT_TEST:-2000}
epochs=${GOZOO_FT_EPOCHS:-4}
threads=${GOZOO_BENCH_THREADS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ImageFolder trees of PNGs: train (train split, $train a class), val (50 a
# class, after them) and test (the first $test images of the test split).
"$python" - "$fmnist" "$work/data" "$train" "$test" <<'PY'
import gzip, os, sys
import numpy as np
from PIL import Image
src, out, per, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
def idx(path, images):
    with gzip.open(path) as f:
        b = f.read()
    return np.frombuffer(b, np.uint8, offset=16).reshape(-1, 28, 28) if images else np.frombuffer(b, np.uint8, offset=8)
def save(split, x, y, i):
    d = os.path.join(out, split, names[y].replace("/", "-"))
    os.makedirs(d, exist_ok=True)
    Image.fromarray(x).save(os.path.join(d, "%05d.png" % i))
x, y = idx(src + "/train-images-idx3-ubyte.gz", 1), idx(src + "/train-labels-idx1-ubyte.gz", 0)
count = [0] * 10
for i in range(len(y)):
    c = count[y[i]]
    if c < per + 50:
        save("train" if c < per else "val", x[i], y[i], i)
        count[y[i]] += 1
x, y = idx(src + "/t10k-images-idx3-ubyte.gz", 1), idx(src + "/t10k-labels-idx1-ubyte.gz", 0)
for i in range(ntest):
    save("test", x[i], y[i], i)
PY
# The folders drop the "/" of "T-shirt/top"; the model's classes are
# the folder names, in torchvision's order, for both runs alike.

t0=$(date +%s)
GOZOO_TORCH_THREADS=$threads "$gozoo" finetune --arch resnet18 --num-classes 10 --data "$work/data" \
	--input-size 32,32 --grayscale --mean 0.286,0.286,0.286 --std 0.353,0.353,0.353 --augment flip=0.5 \
	--epochs "$epochs" --lr 0.05 --batch-size 64 --keep last,best --out "$work/ft" >"$work/finetune.log" 2>&1 ||
	{ cat "$work/finetune.log"; exit 1; }
t1=$(date +%s)
"$gozoo" eval --weights "$work/ft/best.pth" --layer fc --threads "$threads" --out "$work/fp32.json" "$work/data/test" >/dev/null 2>&1
"$gozoo" extract --weights "$work/ft/best.pth" --layers avgpool --threads "$threads" --out "$work/fp32.npz" "$work/data/test" 2>/dev/null
for m in minmax percentile entropy; do
	"$gozoo" quantize --weights "$work/ft/best.pth" --calibrate "$work/data/train" --calibrate-images 512 --method "$m" \
		--layers avgpool,fc --threads "$threads" --out "$work/$m.int8.onnx" 2>"$work/quantize.log" || { cat "$work/quantize.log"; exit 1; }
	"$gozoo" eval --weights "$work/$m.int8.onnx" --layer fc --threads "$threads" --out "$work/$m.json" "$work/data/test" >/dev/null 2>&1
	"$gozoo" extract --onnx "$work/$m.int8.onnx" --layers avgpool --threads "$threads" --out "$work/$m.npz" "$work/data/test" 2>/dev/null
done
"$python" - "$work" "$((t1 - t0))" "$epochs" "$train" <<'PY'
import json, sys
import numpy as np
w, secs, epochs, per = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
fp = json.load(open(w + "/fp32.json"))
a = np.load(w + "/fp32.npz")["avgpool"]
a = a.reshape(len(a), -1).astype(np.float64)
print("resnet18 fine-tuned by gozoo finetune on Fashion-MNIST (%s train images a class, %s epochs at 32x32, %s s), %d test images:"
      % (per, epochs, secs, fp["images"]))
print("  fp32 top-1 %.4f" % fp["top1"])
for m in ["minmax", "percentile", "entropy"]:
    q, rep = json.load(open(w + "/%s.json" % m)), json.load(open(w + "/%s.int8.quantize.json" % m))
    b = np.load(w + "/%s.npz" % m)["avgpool"]
    b = b.reshape(len(b), -1).astype(np.float64)
    cos = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    print("  int8 %-10s top-1 %.4f (drop %5.2f points), avgpool cosine mean %.5f min %.5f; calibrated on %d images, %.1f MB -> %.1f MB"
          % (m, q["top1"], 100 * (fp["top1"] - q["top1"]), cos.mean(), cos.min(), rep["calibration_images"],
             rep["size_fp32_bytes"] / 1e6, rep["size_int8_bytes"] / 1e6))
print("  ONNX Runtime runs the int8 model as: %s" % ", ".join("%s %d" % kv for kv in sorted(rep["runtime_ops"].items())))
PY
