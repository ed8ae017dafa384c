#!/usr/bin/env bash
# Four short training variants side by side on one GPU (the 2026-11-29 exploration, README "Exploration on the
# H200"), each continued or started for ~6 minutes with 3 data workers, then evaluated with evaluate.py at
# 512/1024/2048 tokens (100 cases per cell). From the repository root:
#
#   bash tools/retrieval_model/experiments/explore_h200.sh OUT_DIR
#
# v1: the evaluation format, continued from the bundled model with the key-matching options
# v2: as v1, in the answer-lead format (experiments/grammar_answer_lead.json)
# v3: the answer-lead format from scratch (train.py defaults)
# v4: as v2 with 16k-token batches (four times the optimizer steps)
set -u
OUT=${1:?usage: explore_h200.sh OUT_DIR}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
RM=tools/retrieval_model
TOK=models/rocketkv-retrieval-tiny/tokenizer.json
LEAD=$PWD/$RM/experiments/grammar_answer_lead.json
DL=$(( $(date +%s) + ${TRAIN_S:-350} ))
COMMON="--tokenizer $TOK --minutes 6 --deadline $DL --workers 3 --max-len 2048 --ramp 0.15,0.6 --export-every 60"
CONT="--init-from models/rocketkv-retrieval-tiny --start-len 512 --warmup-steps 30 --lr 1e-3 --dense 0.6,0.3 \
--dense-fill 1 --dense-reverse 1 --dense-keys 16 --dense-questions 16 --first-digit-weight 2"
train() { # name grammar(old|lead) train.py args...
  local n=$1 g=$2
  shift 2
  ( [[ $g == lead ]] && export RETRIEVAL_GRAMMAR=$LEAD
    python3 $RM/train.py $COMMON --export "$OUT/$n/model" --meta "$OUT/$n/train_meta.json" "$@" > "$OUT/$n.log" 2>&1
    timeout 120 python3 $RM/evaluate.py --model "$OUT/$n/model" --out "$OUT/$n/eval.json" --contexts 512,1024,2048 \
      --cases 100 --seconds 45 >> "$OUT/$n.log" 2>&1 ) &
}
# shellcheck disable=SC2086
train v1 old $CONT --batch-tokens 65536
# shellcheck disable=SC2086
train v2 lead $CONT --batch-tokens 65536
train v3 lead --batch-tokens 65536
# shellcheck disable=SC2086
train v4 lead $CONT --batch-tokens 16384
wait
for n in v1 v2 v3 v4; do
  echo "== $n"
  grep "train-exact" "$OUT/$n.log" | tail -1
  python3 -c "import json; print(json.load(open('$OUT/$n/eval.json'))['table'])"
done
