#!/usr/bin/env bash
# bench-images.sh: images/s of gozoo's end-to-end feature extraction from a
# folder of JPEGs, against pre-decoded tensors and torchvision's
# ImageFolder + DataLoader + PyTorch eager, at equal threads. Needs
# `make build`; scripts/bench.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${GOZOO_BENCH_THREADS:-2}
go run ./internal/benchimages -threads "$threads" "$@"
