#!/usr/bin/env bash
# Two trainings of the adjacent-key format side by side, one per GPU of a two-GPU machine, each the whole
# gpu_run.sh pipeline (tokenizer with --space-digit, training, evaluation, parity data) from scratch:
#   A: train.py defaults (vartrack dense chains capped at 6: 23 one-letter names)
#   B: more associative-recall drill and more vartrack rows
#   bash tools/retrieval_model/experiments/adjacent_x2.sh OUT_DIR
set -u
OUT=${1:?usage: adjacent_x2.sh OUT_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export RETRIEVAL_GRAMMAR="$HERE/grammar_adjacent.json" TOKENIZER_ARGS="--space-digit"
mkdir -p "$OUT/A" "$OUT/B"
CUDA_VISIBLE_DEVICES=0 TRAIN_ARGS="--dense-chains 6" \
  bash "$HERE/../gpu_run.sh" "$OUT/A" > "$OUT/A.log" 2>&1 &
CUDA_VISIBLE_DEVICES=1 TRAIN_ARGS="--dense-chains 6 --dense 0.6,0.3 --task-weights 0.1,0.35,0.55" \
  bash "$HERE/../gpu_run.sh" "$OUT/B" > "$OUT/B.log" 2>&1 &
wait
