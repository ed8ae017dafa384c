#!/usr/bin/env bash
# The CPU backend beside llama.cpp on the same machine, in one run, both on THREADS threads (default 2):
# the memory-bandwidth ceiling (JMH CpuMatmulBenchmark.copyBandwidth / readBandwidth), then on the bundled
# retrieval model (f32 and bf16 GGUF) and a random 246M-parameter Llama (bf16): llama.cpp's prefill tok/s at 512 and
# 2048 tokens and decode tok/s (llama-bench; llama-batched-bench for decode after a 512- or 2048-token prompt), and
# this project's LlmBench at --concurrency 1 on the same checkpoints (prefill = prompt / TTFT, decode = 1 / TPOT).
# First it checks that llama.cpp reads the retrieval model as this project does: the same prompt ids and the same
# greedy continuation on retrieval cases (check_parity.py); a difference stops the run.
#
# Usage, from anywhere:  benchmarks/cpu-peers/run_cpu_peers.sh LLAMA_CPP_BIN [OUT_DIR]
#   LLAMA_CPP_BIN  a directory holding llama-bench, llama-batched-bench, llama-tokenize and llama-simple from a
#                  CPU build of llama.cpp (the commit the figures in docs/performance.md were taken with is named there)
#   OUT_DIR        default benchmarks/results/cpu-peers-YYYY-MM-DD
# Environment: JAVA_HOME (a JDK 25), THREADS (2), REPS (llama-bench repetitions, 5), WAIT (longest wait in seconds
# for the load average to drop below 1 before each step, 120), SKIP_BUILD=1 (jars already
# built by ./mvnw -B package -DskipTests -pl benchmarks,examples -am), MVN_OFFLINE=1 (pass -o to Maven).
# Every step runs through benchmarks/run_with_load.py, which logs the load average and the CPU that other
# processes used during it to OUT_DIR/load.txt. Generated checkpoints and GGUF files go to
# benchmarks/cpu-peers/work/ (git-ignored).
set -euo pipefail

[[ $# -ge 1 ]] || { sed -n '2,20p' "$0"; exit 2; }
BIN=$(realpath "$1")
OUT=${2:+$(realpath -m "$2")}
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(realpath -m "benchmarks/results/cpu-peers-$(date -u +%F)")}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
WORK=benchmarks/cpu-peers/work
J=${JAVA_HOME:?set JAVA_HOME to a JDK 25}/bin/java
JOPTS=(-XX:ActiveProcessorCount="$THREADS" --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector)
BENCH_JAR=benchmarks/target/benchmarks.jar
EXAMPLES_JAR=examples/target/rocketkv-examples-all.jar
DEMO=models/rocketkv-retrieval-tiny
RANDOM_MODEL=$WORK/random-250m
export BENCH_OUT=$OUT
for tool in llama-bench llama-batched-bench llama-tokenize llama-simple; do
  [[ -x $BIN/$tool ]] || { echo "run_cpu_peers: $BIN/$tool is missing" >&2; exit 2; }
done
mkdir -p "$OUT" "$WORK/gguf"
step() { python3 benchmarks/run_with_load.py --wait="${WAIT:-120}" --exec "$@"; }

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  ./mvnw -q -B ${MVN_OFFLINE:+-o} package -DskipTests -pl benchmarks,examples -am
fi

{
  echo "date: $(date -u '+%F %T') UTC"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "threads: $THREADS"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L1d|L2|L3|NUMA node\(s\))'
  echo "SIMD flags: $(grep -o -E -w 'avx2|fma|f16c|avx512[a-z_0-9]*|asimd|sve' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  grep -E '^(MemTotal|SwapTotal)' /proc/meminfo
  echo "kernel: $(uname -sr)"
  "$J" -version 2>&1 | sed 's/^/java: /'
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "top processes before the run:"
  ps -eo pcpu,etime,comm --sort=-pcpu | head -8
} > "$OUT/machine.txt"

step bandwidth "$J" "${JOPTS[@]}" -jar "$BENCH_JAR" 'CpuMatmulBenchmark.(copy|read)Bandwidth' -p threads="$THREADS" \
  -jvmArgsAppend "-XX:ActiveProcessorCount=$THREADS" -rf json -rff "$OUT/bandwidth.json"

[[ -f $RANDOM_MODEL/model.safetensors ]] ||
  "$J" -cp "$BENCH_JAR" io.rocketkv.benchmarks.gguf.RandomPeerCheckpoint --out "$RANDOM_MODEL"
convert() { "$J" -cp "$BENCH_JAR" io.rocketkv.benchmarks.gguf.HfToGguf --model "$1" --out "$WORK/gguf/$2.gguf" --type "$3"; }
convert "$DEMO" demo-f32 f32
convert "$DEMO" demo-bf16 bf16
convert "$RANDOM_MODEL" random-250m-bf16 bf16

# correctness before speed: llama.cpp must tokenize and continue the retrieval prompts as this project does
"$J" "${JOPTS[@]}" -cp "$EXAMPLES_JAR" io.rocketkv.examples.GreedyCases --model "$DEMO" --tokens 512,2048 --cases 2 \
  --output-json "$OUT/greedy-cases.json" > "$OUT/greedy-cases.log"
for t in f32 bf16; do
  python3 benchmarks/cpu-peers/check_parity.py "$OUT/greedy-cases.json" "$WORK/gguf/demo-$t.gguf" "$BIN" \
    "$OUT/parity-demo-$t.json" || { echo "run_cpu_peers: llama.cpp differs from this project on demo-$t" >&2; exit 1; }
done

for name in demo-f32 demo-bf16 random-250m-bf16; do
  gguf=$WORK/gguf/$name.gguf
  step "llama-bench-$name" bash -c "'$BIN/llama-bench' -m '$gguf' -t $THREADS -p 512,2048 -n 128 -r $REPS -o json \
    > '$OUT/llama-bench-$name.json'"
  # decode after a prompt: three runs each of prompt 512 and 2048 then 128 generated tokens, one sequence
  step "llama-batched-bench-$name" bash -c "'$BIN/llama-batched-bench' -m '$gguf' -t $THREADS -c 2176 -b 2048 -ub 512 \
    -npp 512,512,512,2048,2048,2048 -ntg 128 -npl 1 --output-format jsonl | grep '^{' > '$OUT/llama-batched-bench-$name.jsonl'"
done

printf 'backend: cpu\nmax_seq_len: 4096\n' > "$OUT/ours-config.yaml"
for model in demo random-250m; do
  dir=$DEMO; requests=3
  [[ $model = random-250m ]] && { dir=$RANDOM_MODEL; requests=1; }
  for len in 512 2048; do
    step "ours-$model-bf16-$len" "$J" "${JOPTS[@]}" -cp "$EXAMPLES_JAR" io.rocketkv.examples.LlmBench --model "$dir" \
      --config "$OUT/ours-config.yaml" --input-len "$len" --output-len 128 --num-requests "$requests" --concurrency 1 \
      --output-json "$OUT/ours-$model-bf16-$len.json"
  done
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 benchmarks/cpu-peers/report.py "$OUT" "$DEMO" "$RANDOM_MODEL"
