#!/usr/bin/env bash
# bench-beam.sh prints images/s of gozoo-beam on prism with 1 and 2
# workers against gozoo extract on the same images, with the ratios, and
# what 10 million images take on N workers at the measured rate. Needs
# `make build` (bin/gozoo, bin/gozoo-beam, bin/plugins).
set -euo pipefail
cd "$(dirname "$0")/../beam"
threads=${GOZOO_BENCH_THREADS:-2}
go run ./internal/benchbeam -bin ../bin -threads "$threads" "$@"
