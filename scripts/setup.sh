#!/usr/bin/env bash
# setup.sh installs everything gozoo's build, demo and tests need on a
# Debian 12 machine: PyTorch and friends from Debian (the numerical oracle of
# the tests), protoc and its Go plugins (make proto), and the ONNX Runtime
# library (scripts/install-onnxruntime.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
	python3-torch python3-torchvision python3-numpy python3-onnx
	python3-grpcio python3-protobuf python3-grpc-tools protobuf-compiler python3-cryptography
	python3-requests
	python3-statsmodels
	python3-skimage python3-sklearn dataset-fashion-mnist
	libjpeg62-turbo-dev
)
missing=()
for p in "${apt_packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The ONNX Runtime library comes from npm; Debian's npm only when none is here.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "setup: installing ${missing[*]} (Debian packages)"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "setup: protoc-gen-go and protoc-gen-go-grpc (make proto)"
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

scripts/install-onnxruntime.sh
echo "setup: done"
