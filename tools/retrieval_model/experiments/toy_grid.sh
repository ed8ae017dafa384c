#!/usr/bin/env bash
# Runs a grid of mqar_toy.py settings side by side (one process each; on one GPU they share it) for SECONDS
# each, then prints each run's last report and when it first reached 0.9 accuracy. From the repository root:
#
#   SECONDS_EACH=540 [PYTHON=python3] bash tools/retrieval_model/experiments/toy_grid.sh OUT_DIR
#
# The grid (edit GRID below) asks what makes key matching form within a few minutes: the number of pairs
# (a curriculum from 2), weight decay, learning rate and warm-up, rows per step, heads, RoPE theta.
set -u
OUT=${1:?usage: toy_grid.sh OUT_DIR}
SECONDS_EACH=${SECONDS_EACH:-540}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$OUT"
GRID=(
  "base|--format adj --pairs 8 --queries 4"
  "cur|--format adj --pairs 8 --queries 1 --curriculum"
  "cur-wd0|--format adj --pairs 8 --queries 1 --curriculum --weight-decay 0"
  "cur-wd0-lr3|--format adj --pairs 8 --queries 1 --curriculum --weight-decay 0 --lr 3e-3 --warmup 500"
  "cur-wd0-rows256|--format adj --pairs 8 --queries 1 --curriculum --weight-decay 0 --rows 256"
  "cur-wd0-8heads|--format adj --pairs 8 --queries 1 --curriculum --weight-decay 0 --heads 8 --head-dim 16"
  "cur-wd0-theta100|--format adj --pairs 8 --queries 1 --curriculum --weight-decay 0 --rope-theta 100"
  "gap3-cur-wd0|--format gap3 --pairs 8 --queries 1 --curriculum --weight-decay 0"
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
