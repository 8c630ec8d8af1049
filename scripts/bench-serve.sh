#!/usr/bin/env bash
# bench-serve.sh measures gozoo serve (resnet18, small input): throughput at
# concurrency 16 and latency at concurrency 1 with dynamic batching on and
# off, and against PyTorch eager behind Python's http.server on the same
# weights and threads, with the ratios. Needs `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./internal/servebench -gozoo bin/gozoo -plugins bin/plugins -threads "${GOZOO_BENCH_THREADS:-2}" "$@"
