#!/bin/sh
# gen.sh regenerates onnx.pb.go from onnx.proto with protoc and
# protoc-gen-go v1.36.12 (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
# Usage: internal/onnxpb/gen.sh [outdir]   (default: this folder)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
PATH="$PATH:$(go env GOPATH)/bin"
protoc -I "$here" --go_out="$out" --go_opt=paths=source_relative onnx.proto
