#!/usr/bin/env bash
# surety-infer beside candle on the same models and machine (docs/infer.md "Benchmark").
# candle lives in bench/candle-reference, a separate cargo project outside the workspace, so
# it is built only here, never by the default build.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export SURETY_MODELS_DIR="${SURETY_MODELS_DIR:-$repo/models}"
scripts/fetch-models "$SURETY_MODELS_DIR"
(cd bench/candle-reference && cargo build --release --quiet)
candle="$(mktemp)"
trap 'rm -f "$candle"' EXIT
for threads in 1 2; do
  RAYON_NUM_THREADS=$threads bench/candle-reference/target/release/candle-reference \
    "$SURETY_MODELS_DIR" crates/infer/tests/golden/minilm_golden.json
done | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin if l.strip()]))' >"$candle"
python3 - "$candle" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1])):
    distance = max(c["minilm_cosine_distance_to_golden"])
    print(f"candle {c['threads']} thread(s): cosine distance to the golden vectors {distance:.2e}, "
          f"first SmolLM2 tokens {c['smollm_first_tokens']}")
PY
CANDLE_JSON="$candle" cargo bench --quiet -p surety-infer --bench infer
