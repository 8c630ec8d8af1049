#!/usr/bin/env bash
# bench.sh prints images/s of feature extraction through the plugin, an
# in-process ONNX Runtime session and PyTorch eager, at equal threads, with
# the ratios. Needs `make build` (the Makefile's bench target does it).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${GOZOO_BENCH_THREADS:-2}
go run ./internal/bench -arch resnet50 -layer avgpool -batch 8 -size 224 -threads "$threads" "$@"
