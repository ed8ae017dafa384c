#!/usr/bin/env bash
# Runs a grid of mqar_toy.py settings side by side (one process each; on one GPU they share it) for SECONDS
# each, then prints each run's last report and when it first reached 0.9 accuracy. From the repository root:
#
#   SECONDS_EACH=540 [PYTHON=python3] bash tools/retrieval_model/experiments/toy_grid.sh OUT_DIR
#
# The grid (edit GRID below) asks what makes key matching form within a few minutes: the number of distinct key
# tokens (on the CPU: with 16 key tokens 8-pair matching was learned in ~1,250 steps; with 64 or 200 not even
# 2-pair matching in 5,750 / 13,750 steps), the gap between key and value and filler (the retrieval grammar's
# shape), depth and RoPE theta.
set -u
OUT=${1:?usage: toy_grid.sh OUT_DIR}
SECONDS_EACH=${SECONDS_EACH:-540}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$OUT"
GRID=(
  "adj-k16|--format adj --keys 16 --values 16 --pairs 8 --queries 4 --weight-decay 0"
  "adj-k64|--format adj --keys 64 --values 64 --pairs 8 --queries 4 --weight-decay 0"
  "adj-k200|--format adj --pairs 8 --queries 4 --weight-decay 0"
  "adj-k200-cur|--format adj --pairs 8 --queries 1 --curriculum --weight-decay 0 --rows 256"
  "gap3-k16|--format gap3 --keys 16 --values 16 --pairs 8 --queries 4 --weight-decay 0"
  "filler-k16|--format filler --keys 16 --values 16 --pairs 8 --queries 4 --weight-decay 0"
  "gap3-k16-4layers|--format gap3 --keys 16 --values 16 --pairs 8 --queries 4 --weight-decay 0 --layers 4"
  "gap1-k16|--format gap1 --keys 16 --values 16 --pairs 8 --queries 4 --weight-decay 0"
  "gap3-k16-theta100|--format gap3 --keys 16 --values 16 --pairs 8 --queries 4 --weight-decay 0 --rope-theta 100"
)
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
for spec in "${GRID[@]}"; do
  name=${spec%%|*}
  # shellcheck disable=SC2086
  "$PY" "$HERE/mqar_toy.py" ${spec#*|} --seconds "$SECONDS_EACH" > "$OUT/toy-$name.log" 2>&1 &
done
wait
for spec in "${GRID[@]}"; do
  name=${spec%%|*}
  echo "== $name"
  grep "step" "$OUT/toy-$name.log" | tail -2
done
