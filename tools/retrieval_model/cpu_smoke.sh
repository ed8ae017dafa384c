#!/usr/bin/env bash
# The whole GPU run at toy scale on a CPU (a few minutes), then the Java side on its output:
#
#   PYTHON=python3 bash tools/retrieval_model/cpu_smoke.sh [OUT_DIR]
#
# 1. gpu_run.sh with a 2-layer, 64-wide model, 1 minute of training on 128..512-token prompts, a 3 x 3 evaluation
#    of 8 cases per cell and the parity data (the same scripts and steps as the real run, only smaller);
# 2. RetrievalModelParityTest pointed at that output (Java tokenizer ids, CPU engine vs transformers);
# 3. LlmSparseAttention (dense) and RetrievalEval load the exported checkpoint and generate.
# Needs python with torch, transformers, tokenizers, numpy; JAVA_HOME a JDK 25. Accuracy is ~0 at this scale.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-$(mktemp -d /tmp/retrieval-smoke.XXXXXX)}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

TOTAL_S=300 RESERVE_S=150 TRAIN_MINUTES=1 EVAL_S=60 \
TRAIN_ARGS="--layers 2 --hidden 64 --intermediate 128 --heads 4 --kv-heads 2 --head-dim 16 --batch-tokens 4096 \
--min-len 128 --start-len 256 --max-len 512 --pool 5000 --workers 1 --log-every 20 --export-every 20" \
EVAL_ARGS="--contexts 256,512,1024 --cases 8 --procs 2" PARITY_ARGS="--tries 2" \
  bash tools/retrieval_model/gpu_run.sh "$OUT"

./mvnw -o -B -q -pl rocketkv-core test -Dtest=RetrievalModelParityTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Drocketkv.retrievalModel="$OUT/model" -Drocketkv.retrievalParity="$OUT/parity/rocketkv-retrieval-tiny.json"

JAR=examples/target/rocketkv-examples-all.jar
[[ -f $JAR ]] || ./mvnw -o -B -q package -DskipTests
JAVA=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp "$JAR")
"${JAVA[@]}" io.rocketkv.examples.LlmSparseAttention --model_path "$OUT/model" --algo NONE --backend cpu \
  --max_new_tokens 8 --prompt "$(printf 'The pass key is 12345. Remember it. 12345 is the pass key.\n\nQuestion: What is the pass key?\nAnswer:')"
"${JAVA[@]}" io.rocketkv.examples.eval.RetrievalEval --model "$OUT/model" --contexts 1024 --cases 1 | tail -4
echo "cpu smoke test passed; output in $OUT"
