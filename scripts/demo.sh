#!/usr/bin/env bash
# demo.sh: gozoo's main job, end to end. A resnet18 checkpoint saved by
# PyTorch is served from Go with no Python in the loop: list the plugins and
# layers, extract three layers from one forward pass per batch, and compare
# them with PyTorch's own forward pass on the same weights.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
dir=.cache/demo
mkdir -p "$dir"

echo "== gozoo plugins"
bin/gozoo plugins
echo
echo "== gozoo layers resnet18 (first lines)"
bin/gozoo layers resnet18 --num-classes 10 >"$dir/layers.txt"
head -n 12 "$dir/layers.txt"
echo "  ... $(tail -n 1 "$dir/layers.txt")"
echo
echo "== a checkpoint and images from PyTorch"
"$PYTHON" scripts/demo/make_demo.py make "$dir"
ls -l "$dir"
echo
echo "== gozoo extract"
bin/gozoo extract --arch resnet18 --weights "$dir/resnet18.pth" --num-classes 10 \
	--layers layer3.1.conv2,avgpool,fc --out "$dir/feats.npz" "$dir/images.npy"
echo
echo "== the same layers from PyTorch"
"$PYTHON" scripts/demo/make_demo.py check "$dir" "$dir/feats.npz" layer3.1.conv2 avgpool fc
echo
echo "== the zoo: named models with verified weights (first lines of gozoo zoo list)"
bin/gozoo zoo list >"$dir/zoo.txt"
head -n 4 "$dir/zoo.txt"
echo
echo "== features from photos shipped in scripts/demo/images, with the embedded model"
bin/gozoo extract --layers avgpool,fc --out "$dir/photos.npz" scripts/demo/images/photos
bin/gozoo extract --model resnet18_w8.gozoo_fmnist --layers fc --out "$dir/fashion.safetensors" scripts/demo/images/fashion
"$PYTHON" scripts/demo/check_zoo.py "$dir/photos.npz" "$dir/fashion.safetensors"
echo
echo "== the Go API (examples/extract)"
go run ./examples/extract -plugins bin/plugins
