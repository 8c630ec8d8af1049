#!/usr/bin/env bash
# bench-quant.sh: images/s of ResNet-50 avgpool features in int8 (gozoo
# quantize's QDQ graph, uint8 activations, int8 weights) against the
# float32 graph the resnet plugin runs, on ONNX Runtime in one process,
# same threads, same images, alternating rounds; prints the ratio and the
# operators ONNX Runtime runs the int8 graph as (a Conv or Gemm left in
# that list runs in float32). scripts/bench.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${GOZOO_BENCH_THREADS:-2}
go run ./internal/benchquant -arch resnet50 -layer avgpool -batch 8 -size 224 -threads "$threads" "$@"
