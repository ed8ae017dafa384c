#!/usr/bin/env bash
# The whole retrieval-model run (issue [G]) in one command, from the repository root, within TOTAL_S seconds:
#
#   bash tools/retrieval_model/gpu_run.sh "$OUT"
#
# 1. tokenizer   -> $OUT/tokenizer/{tokenizer.json,tokenizer_config.json}   (train_tokenizer.py, ~5 s, or TOKENIZER_FROM; its defaults
#                   are the ones the grammar needs: a number's space kept with its first digit)
# 2. training    -> $OUT/model/ (Hugging Face folder, exported every 90 s and at the end) + $OUT/train_meta.json;
#                   stops by itself RESERVE_S seconds before the end of the budget (train.py --deadline)
# 3. evaluation  -> $OUT/eval.json (dense exact match per task x context, transformers; evaluate.py, <= EVAL_S s)
# 4. parity data -> $OUT/parity/rocketkv-retrieval-tiny.json (parity.py; for RetrievalModelParityTest)
# 5. model card  -> $OUT/model/README.md (fill_model_card.py from MODEL_CARD.md.template, eval.json, train_meta.json)
#
# Everything is logged to stdout and $OUT/log.txt. Steps 3-5 run only after the model is saved, each in its own
# process under `timeout`; a failure there is reported and the next step still runs. Exit status: 0 when every
# step worked, 1 when the model was saved but a later step failed, 2 when there is no model.
#
# Settings (environment): PYTHON (python3), TOTAL_S (570: the whole run), RESERVE_S (140: kept for steps 3-5),
# TRAIN_MINUTES (7: the training budget when the deadline allows it), EVAL_S (60), VOCAB (2048),
# TOKENIZER_ARGS / TRAIN_ARGS / EVAL_ARGS / PARITY_ARGS (extra flags; the CPU smoke test uses them to make everything tiny;
# none is needed for the shared grammar; TOKENIZER_ARGS=--no-space-digit makes a tokenizer as before grammar version 2),
# TOKENIZER_FROM (a model folder whose tokenizer.json / tokenizer_config.json are used instead of training one: set it to
# the --init-from folder when continuing a model, since a tokenizer trained on another grammar version's text has the
# same tokens under other ids).
set -u -o pipefail

OUT=${1:?usage: bash tools/retrieval_model/gpu_run.sh OUT_DIR}
START=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOTAL_S=${TOTAL_S:-570}
RESERVE_S=${RESERVE_S:-140}
TRAIN_MINUTES=${TRAIN_MINUTES:-7}
EVAL_S=${EVAL_S:-60}
VOCAB=${VOCAB:-2048}
TRAIN_ARGS=${TRAIN_ARGS:-}
EVAL_ARGS=${EVAL_ARGS:-}
PARITY_ARGS=${PARITY_ARGS:-}
NAME=rocketkv-retrieval-tiny

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}

since() { echo $(( $(date +%s) - START )); }
say() { echo "[gpu_run +$(since)s] $*"; }
status=0

say "output $OUT; budget ${TOTAL_S}s, ${RESERVE_S}s kept after training; git $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader
PY=
for cand in ${PYTHON:-} python3 python /usr/bin/python3; do  # the first interpreter with everything needed
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch, transformers, tokenizers, numpy, safetensors" 2>/dev/null; then
    PY=$cand
    break
  fi
done
[[ -n $PY ]] || { say "FAILED: no python with torch, transformers, tokenizers, numpy and safetensors (set PYTHON)"; exit 2; }
"$PY" -c "import sys, torch, transformers, tokenizers, numpy; print(sys.executable, sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__, 'numpy', numpy.__version__)"

if [[ -n ${TOKENIZER_FROM:-} ]]; then  # continuing a model: its own tokenizer (a new one may number tokens otherwise)
  say "1/5 tokenizer: copied from $TOKENIZER_FROM"
  mkdir -p "$OUT/tokenizer" && cp "$TOKENIZER_FROM/tokenizer.json" "$TOKENIZER_FROM/tokenizer_config.json" "$OUT/tokenizer/" \
    || { say "FAILED: tokenizer"; exit 2; }
else
  say "1/5 tokenizer"
  "$PY" "$HERE/train_tokenizer.py" --out "$OUT/tokenizer" --vocab-size "$VOCAB" ${TOKENIZER_ARGS:-} || { say "FAILED: tokenizer"; exit 2; }
fi

DEADLINE=$(( START + TOTAL_S - RESERVE_S ))
say "2/5 training (at most ${TRAIN_MINUTES} min, ending by +$(( TOTAL_S - RESERVE_S ))s)"
# shellcheck disable=SC2086
timeout --signal=TERM --kill-after=10 $(( DEADLINE - $(date +%s) + 45 )) \
  "$PY" "$HERE/train.py" --tokenizer "$OUT/tokenizer/tokenizer.json" --export "$OUT/model" \
  --meta "$OUT/train_meta.json" --minutes "$TRAIN_MINUTES" --deadline "$DEADLINE" $TRAIN_ARGS
rc=$?
if [[ ! -f "$OUT/model/model.safetensors" ]]; then
  say "FAILED: training exited with $rc and saved no model"
  exit 2
fi
[[ $rc -eq 0 ]] || { say "training exited with $rc; continuing with the last export in $OUT/model"; status=1; }
ls -l "$OUT/model"

say "3/5 evaluation (at most ${EVAL_S}s of batches)"
# shellcheck disable=SC2086
timeout --signal=TERM --kill-after=10 $(( EVAL_S + 60 )) \
  "$PY" "$HERE/evaluate.py" --model "$OUT/model" --out "$OUT/eval.json" --seconds "$EVAL_S" $EVAL_ARGS \
  || { say "evaluation FAILED (exit $?)"; status=1; }

say "4/5 parity data"
# shellcheck disable=SC2086
timeout --signal=TERM --kill-after=10 90 \
  "$PY" "$HERE/parity.py" --model "$OUT/model" --out "$OUT/parity/$NAME.json" --name "$NAME" $PARITY_ARGS \
  || { say "parity data FAILED (exit $?)"; status=1; }

say "5/5 model card"
timeout 30 "$PY" "$HERE/fill_model_card.py" --template "$HERE/MODEL_CARD.md.template" --eval "$OUT/eval.json" \
  --meta "$OUT/train_meta.json" --model "$OUT/model" --out "$OUT/model/README.md" \
  || { say "model card FAILED (exit $?)"; status=1; }

( cd "$OUT" && find . -type f ! -name log.txt -printf '%8s  %p\n' | sort -k2 )
say "done, exit status $status (0: all steps worked; 1: the model is saved but a later step failed)"
exit $status
