#!/bin/sh
# gen.sh regenerates gozoo_plugin's Python stubs: the backbone protocol
# (internal/backbonev1/backbone.proto) and the three services a go-plugin
# plugin answers besides it (proto/). Every Python plugin (gozoo_torch
# among them) imports them from gozoo_plugin.pb. It needs protoc (Debian
# protobuf-compiler) and Debian's python3-grpc-tools; `make proto` runs it.
#
# Usage: gen.sh [OUTDIR]   (default: gozoo_plugin/pb beside this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/gozoo_plugin/pb}
python=${PYTHON:-/usr/bin/python3}
api=$here/../../internal/backbonev1
mkdir -p "$out"
protoc -I "$api" --python_out="$out" "$api/backbone.proto"
protoc -I "$here/proto" --python_out="$out" \
	"$here/proto/health.proto" "$here/proto/grpc_controller.proto" "$here/proto/rpc_status.proto"
"$python" -m grpc_tools.protoc -I "$api" --grpc_python_out="$out" "$api/backbone.proto"
"$python" -m grpc_tools.protoc -I "$here/proto" --grpc_python_out="$out" \
	"$here/proto/health.proto" "$here/proto/grpc_controller.proto"
# The generated services import their messages as top-level modules; make
# the imports relative so the stubs live inside the gozoo_plugin package.
for f in "$out"/*_pb2_grpc.py; do
	sed 's/^import \([a-z_]*_pb2\) as /from . import \1 as /' "$f" >"$f.tmp"
	mv "$f.tmp" "$f"
done
