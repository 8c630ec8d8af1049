#!/usr/bin/env bash
# bench-run.sh times a 3 x 3 (arch x layer) `gozoo run` compare of linear
# probes on the same images twice: as one sweep, whose feature cache runs
# one forward pass per arch for all its layers, and as the nine probes run
# one by one, each with an empty cache (nine forward passes). It prints both
# times and their ratio. Needs `make build` and python3-sklearn's digits.
set -euo pipefail
cd "$(dirname "$0")/.."
gozoo=$PWD/bin/gozoo
limit=${GOZOO_BENCH_IMAGES:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/base.yaml" <<YAML
version: 1
kind: probe
model:
  arch: resnet18
  options: {width: 8}
  layers: [avgpool]
  resize: 32
  crop: [32]
data:
  path: /usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
  limit: $limit
probe: {steps: 4, refine: 0}
YAML
sed 's/^kind: probe/kind: compare/' "$work/base.yaml" >"$work/sweep.yaml"
cat >>"$work/sweep.yaml" <<YAML
compare:
  grid:
    - {key: model.arch, values: [resnet18, resnet34, resnet50]}
    - {key: model.layers, values: [[layer2], [layer3], [avgpool]]}
YAML
now() { date +%s.%N; }
cd "$work"
t0=$(now)
GOZOO_RUNS_DIR=$work/sweep "$gozoo" run sweep.yaml >/dev/null 2>"$work/sweep.log" || { cat "$work/sweep.log"; exit 1; }
t1=$(now)
i=0
for arch in resnet18 resnet34 resnet50; do
	for layer in layer2 layer3 avgpool; do
		i=$((i + 1))
		GOZOO_RUNS_DIR=$work/single$i "$gozoo" run base.yaml --set model.arch=$arch --set "model.layers=[$layer]" >/dev/null 2>"$work/single.log" || { cat "$work/single.log"; exit 1; }
	done
done
t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$limit" 'BEGIN {
	s = b - a; o = c - b
	printf "gozoo run compare 3x3 (arch x layer), %d digits: sweep with feature cache %.1f s, nine probes without cache %.1f s, ratio %.2fx\n", n, s, o, o / s
}'
