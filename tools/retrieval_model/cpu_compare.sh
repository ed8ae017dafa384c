#!/usr/bin/env bash
# The data-mix comparison at toy scale on a CPU: the same tiny model, the same step budget and seed, trained once
# with the earlier recipe's mix (the three tasks evenly in the evaluation format, no dense batches) and once with the
# current defaults (dense associative-recall batches, varied cases, weighted toward multikey / vartrack), then both
# evaluated on the same held-out cases (exact match and answer-token accuracy):
#
#   PYTHON=python3 bash tools/retrieval_model/cpu_compare.sh [OUT_DIR]     # ~25 min on 2 busy cores
#
# Settings (environment): STEPS (3000; the budget is in steps, so a busy CPU changes the time, not the result),
# CONTEXTS (256: evaluation contexts), CASES (100 per task and context).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$(mktemp -d /tmp/retrieval-compare.XXXXXX)}
PY=${PYTHON:-python3}
STEPS=${STEPS:-3000}
CONTEXTS=${CONTEXTS:-256}
CASES=${CASES:-100}
mkdir -p "$OUT"
"$PY" "$HERE/train_tokenizer.py" --out "$OUT/tokenizer" --vocab-size 2048
TOY=(--layers 4 --hidden 128 --intermediate 256 --heads 4 --kv-heads 2 --head-dim 32 --batch-tokens 2048
     --min-len 128 --start-len 256 --max-len 256 --dense-len 96,256 --lr 3e-3 --warmup-steps 100
     --pool 5000 --workers 1 --log-every 100 --export-every 100000 --minutes 60 --steps "$STEPS")
OLD=(--task-weights 1,1,1 --vary 0 --dense 0,0 --other-loss-weight 0.5 --ramp 0.15,0.5)
for arm in old new; do
  extra=()
  [[ $arm == old ]] && extra=("${OLD[@]}")
  echo "== $arm recipe: training ($STEPS steps)"
  mkdir -p "$OUT/$arm"
  "$PY" "$HERE/train.py" --tokenizer "$OUT/tokenizer/tokenizer.json" --export "$OUT/$arm/model" \
    --meta "$OUT/$arm/train_meta.json" "${TOY[@]}" "${extra[@]}" > "$OUT/$arm/train.log" 2>&1 \
    || { cat "$OUT/$arm/train.log"; exit 1; }
  tail -2 "$OUT/$arm/train.log"
  "$PY" "$HERE/evaluate.py" --model "$OUT/$arm/model" --out "$OUT/$arm/eval.json" --contexts "$CONTEXTS" \
    --cases "$CASES" --seconds 600 --procs 1 --generate-check 0 > "$OUT/$arm/eval.log" 2>&1
done
"$PY" - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
print("%-5s %-9s %7s %8s %13s" % ("mix", "task", "context", "exact", "answer tokens"))
for arm in ("old", "new"):
    ev = json.load(open("%s/%s/eval.json" % (out, arm)))
    for c in ev["cells"]:
        print("%-5s %-9s %7d %8.3f %13.3f" % (arm, c["task"], c["context"], c["accuracy"],
                                            c["answer_token_accuracy"]))
EOF
echo "outputs in $OUT"
