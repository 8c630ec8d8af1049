#!/usr/bin/env bash
# install-onnxruntime.sh puts the ONNX Runtime 1.24.1 CPU shared library
# where sdk/ort looks for it:
#
#   ${GOZOO_CACHE:-$HOME/.cache/gozoo}/onnxruntime/1.24.1/libonnxruntime.so.1
#
# The library comes from the npm package onnxruntime-node@1.24.1 (fetched
# with `npm pack`), file package/bin/napi-v6/linux/x64/libonnxruntime.so.1.
# Both the tarball and the library are checked against pinned sha256 sums;
# a mismatch stops the script with an error and leaves nothing behind.
# Running it again when the library is already in place does nothing.
#
# Environment:
#   GOZOO_CACHE     cache root (default $HOME/.cache/gozoo)
#   GOZOO_ORT_TGZ   use this already-downloaded onnxruntime-node-1.24.1.tgz
#                   instead of running npm pack (offline installs)
#
# On success the library's path is the only thing printed on stdout.
set -euo pipefail

ORT_VERSION=1.24.1
TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
LIB_IN_TGZ=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

cache="${GOZOO_CACHE:-$HOME/.cache/gozoo}"
dest_dir="$cache/onnxruntime/$ORT_VERSION"
dest="$dest_dir/libonnxruntime.so.1"

die() { echo "install-onnxruntime: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) die "only linux/x86_64 is packaged here (got $(uname -s)/$(uname -m)); build ONNX Runtime $ORT_VERSION yourself and set GOZOO_ORT_LIB to its libonnxruntime.so" ;;
esac
command -v sha256sum >/dev/null || die "sha256sum not found: install coreutils"

if [[ -f "$dest" ]]; then
  if [[ "$(sha "$dest")" == "$LIB_SHA256" ]]; then
    echo "$dest"
    exit 0
  fi
  echo "install-onnxruntime: $dest has the wrong sha256; fetching it again" >&2
fi

mkdir -p "$dest_dir"
work="$(mktemp -d "$dest_dir/.install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [[ -n "${GOZOO_ORT_TGZ:-}" ]]; then
  [[ -f "$GOZOO_ORT_TGZ" ]] || die "GOZOO_ORT_TGZ=$GOZOO_ORT_TGZ does not exist"
  tgz="$GOZOO_ORT_TGZ"
else
  command -v npm >/dev/null || die "npm not found: install nodejs/npm (apt-get install npm) or download onnxruntime-node-$ORT_VERSION.tgz and set GOZOO_ORT_TGZ"
  echo "install-onnxruntime: fetching onnxruntime-node@$ORT_VERSION with npm pack" >&2
  (cd "$work" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) \
    || die "npm pack onnxruntime-node@$ORT_VERSION failed: check network access to the npm registry"
  tgz="$work/onnxruntime-node-$ORT_VERSION.tgz"
  [[ -f "$tgz" ]] || die "npm pack did not produce $tgz"
fi

got="$(sha "$tgz")"
[[ "$got" == "$TGZ_SHA256" ]] || die "sha256 mismatch for $tgz: got $got, want $TGZ_SHA256 (corrupt download or tampered package; delete it and retry)"

tar -xzf "$tgz" -C "$work" "$LIB_IN_TGZ" || die "$tgz does not contain $LIB_IN_TGZ"
lib="$work/$LIB_IN_TGZ"
got="$(sha "$lib")"
[[ "$got" == "$LIB_SHA256" ]] || die "sha256 mismatch for $LIB_IN_TGZ: got $got, want $LIB_SHA256"

chmod 0644 "$lib"
# $work is inside $dest_dir, so this rename is atomic.
mv -f "$lib" "$dest"
echo "$dest"
