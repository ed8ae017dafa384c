#!/usr/bin/env bash
# Variable tracking with the chain spelled out (grammar version 3): continue the bundled model (grammar version 2,
# where it answered pass key and multi-key but variable tracking only at chance) on rows weighted toward vartrack,
# whose answers are now the chain's names then the value ("VAR D" -> " C B 48213": one lookup per generated token,
# the step the model already does for multi-key). Hop counts vary from 1 to 3 in the varied rows and dense drills;
# pass key and multi-key keep a share so they are not forgotten. The bundled model's tokenizer is reused
# (TOKENIZER_FROM): one trained on version 3's text has the same tokens under other ids. One gpu_run.sh (about
# 9.5 minutes on an H200):
#   bash tools/retrieval_model/experiments/vartrack_chain.sh OUT_DIR [INIT_DIR]
# INIT_DIR (default models/rocketkv-retrieval-tiny) must lie inside the repository's working tree.
# Watch vart / vart-v / vart-d in the log (teacher-forced exact match of the first answer) and the evaluation's
# vartrack row.
set -u
OUT=${1:?usage: vartrack_chain.sh OUT_DIR [INIT_DIR]}
INIT=${2:-models/rocketkv-retrieval-tiny}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT" || exit 2
TOKENIZER_FROM=$INIT TRAIN_ARGS="--init-from $INIT --start-len 1024 --ramp 0,0.3 --warmup-steps 30 --lr 1e-3 \
--task-weights 0.1,0.25,0.65 --vary 0.6 --vary-chains 2,4 --vary-hops 1,3 --dense 0.6,0.4 --dense-chains 6 \
--dense-hops 3 ${EXTRA_TRAIN_ARGS:-}" bash tools/retrieval_model/gpu_run.sh "$OUT"
