#!/usr/bin/env bash
# surety-infer's traced training beside candle's on MNIST (docs/training.md "Benchmark"):
# time per minibatch (MLP and CNN, batch 32 and 128, 1 and 2 threads), the cost of
# execute_step for the largest step, and test accuracy per epoch, with the plot written to
# docs/training-accuracy.svg. candle and plotters live in bench/candle-train-reference, a
# separate cargo project outside the workspace, so they are built only here.
#
#   scripts/bench-train.sh [mlp epochs] [cnn epochs]      (defaults 6 and 4)
#
# Environment, passed through to the binary: ROUNDS=n (time n rounds, keep each side's
# fastest; default 1), MODELS=mlp or cnn (time one network), SKIP_SPEED=1, SKIP_ACCURACY=1.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export SURETY_DATA_DIR="${SURETY_DATA_DIR:-$repo/data}"
scripts/fetch-data "$SURETY_DATA_DIR"
(cd bench/candle-train-reference && cargo build --release --quiet)
target="${CARGO_TARGET_DIR:-bench/candle-train-reference/target}"
"$target/release/candle-train-reference" "$SURETY_DATA_DIR" docs/training-accuracy.svg "${1:-6}" "${2:-4}"
