#!/usr/bin/env bash
# The next step for variable tracking (not run yet): continue the bundled model on rows weighted toward
# vartrack, with the hop counts varied from 1 to 3 so that 1-hop chains (one induction step, which the model
# already does for multi-key) lead to 2 and 3 hops, and dense vartrack drills; multi-key and pass key keep a
# share so they are not forgotten. One gpu_run.sh (about 9.5 minutes on an H200):
#   bash tools/retrieval_model/experiments/vartrack_continue.sh OUT_DIR
# Watch vart / vart-v / vart-d in the log (train exact; chance about 0.5 / 1/chains) and the evaluation's
# vartrack row; if it stays at chance, the answer format that spells out the chain (one induction step per
# generated token) is the lever after that (tools/retrieval_model/README.md, "The adjacent-key format").
set -u
OUT=${1:?usage: vartrack_continue.sh OUT_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT" || exit 2
TRAIN_ARGS="--init-from models/rocketkv-retrieval-tiny --start-len 1024 --ramp 0,0.3 --warmup-steps 30 --lr 1e-3 \
--task-weights 0.05,0.2,0.75 --vary 0.7 --vary-chains 2,4 --vary-hops 1,3 --dense 0.6,0.4 --dense-chains 6 \
--dense-hops 3" bash tools/retrieval_model/gpu_run.sh "$OUT"
