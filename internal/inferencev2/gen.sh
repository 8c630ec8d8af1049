#!/bin/sh
# gen.sh regenerates the Go code for grpc_predict_v2.proto. It needs protoc
# (Debian protobuf-compiler), protoc-gen-go v1.36.12 and protoc-gen-go-grpc
# v1.6.2 on PATH (make setup installs them).
#
# Usage: gen.sh [OUTDIR]   (default: this folder)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
PATH=$PATH:$(go env GOPATH)/bin
export PATH
protoc -I "$here" \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	"$here/grpc_predict_v2.proto"
