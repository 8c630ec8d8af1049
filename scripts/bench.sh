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
scripts/bench-images.sh
scripts/bench-quant.sh
scripts/bench-torch.sh
scripts/bench-serve.sh
scripts/bench-run.sh
