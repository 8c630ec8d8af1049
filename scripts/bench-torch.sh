#!/usr/bin/env bash
# bench-torch.sh prints the torch plugin's rows: feature extraction through
# the torch plugin against the Go resnet plugin on the same weights, and
# training images/s through gozoo against a plain PyTorch loop on the same
# data, at equal threads. Needs `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${GOZOO_BENCH_THREADS:-2}
go run ./internal/benchtorch -threads "$threads" "$@"
