#!/usr/bin/env bash
# bench.sh prints images/s of feature extraction through the plugin, an
# in-process ONNX Runtime session and PyTorch eager, at equal threads, with
# the ratios. Needs `make build` (the Makefile's bench target does it).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${GOZOO_BENCH_THREADS:-2}
go run ./internal/bench -arch resnet50 -layer avgpool -batch 8 -size 224 -threads "$threads" "$@"
go run ./internal/bench -plugin vgg -arch vgg16 -layer avgpool -batch 4 -size 224 -seconds 10 -threads "$threads" "$@"
go run ./internal/bench -plugin inception -arch inception_v3 -layer avgpool -batch 8 -size 299 -threads "$threads" "$@"
# The whole forward pass (heads.head) of a ViT-B/16.
go run ./internal/bench -plugin transformer -arch vit_b_16 -layer heads.head -batch 4 -size 224 -seconds 10 -threads "$threads" "$@"
# The whole forward pass (classifier.3) of MobileNetV3-Large.
go run ./internal/bench -plugin mobilenet -arch mobilenet_v3_large -layer classifier.3 -batch 8 -size 224 -threads "$threads" "$@"
# The whole forward, to the logits.
go run ./internal/bench -plugin efficientnet -arch efficientnet_b0 -layer classifier -batch 8 -size 224 -threads "$threads" "$@"
go run ./internal/bench -plugin regnet -arch regnet_y_400mf -layer fc -batch 8 -size 224 -threads "$threads" "$@"
scripts/bench-images.sh
scripts/bench-quant.sh
scripts/bench-torch.sh
scripts/bench-serve.sh
scripts/bench-run.sh
# The whole forward pass (classifier.2) of a ConvNeXt-T.
go run ./internal/bench -plugin convnext -arch convnext_tiny -layer classifier.2 -batch 4 -size 224 -seconds 10 -threads "$threads" "$@"
# The whole forward pass (head) of a Swin-T.
go run ./internal/bench -plugin swin -arch swin_t -layer head -batch 4 -size 224 -seconds 10 -threads "$threads" "$@"
scripts/bench-beam.sh
