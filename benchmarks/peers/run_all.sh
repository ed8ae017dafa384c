#!/usr/bin/env bash
# The GPU benchmark in one command: ours and the peers on the same GPU, one after the other, every JSON into
# one directory:
#
#   benchmarks/peers/run_all.sh OUT_DIR [--quick]
#
# Run from the repository root on the GPU machine with the .gpu bundle present (.gpu/jre.tar.xz and
# .gpu/classpath, built with the benchmarks' classes in it) and python3 with torch and transformers. Parts, in
# order (each with a time budget; a part that overruns its budget + 30 s is stopped, the others still run):
#
#   ckpt       make_checkpoint.py: the random-weight Llama-3.1-8B-shaped checkpoint in $ROCKETKV_BENCH_MODEL
#              (default /tmp/rocketkv-llama8b-random; kept, and reused when already there)
#   sweep      GpuBenchmarkRunner  -> OUT_DIR/rocketkv-gpu.json      ceilings, decode and prefill attention
#   e2e        EndToEndBench       -> OUT_DIR/rocketkv-e2e.json      whole-model decode step, capacity, TTFT
#   e2e_fp8    EndToEndBench --kv-cache-dtype fp8 -> OUT_DIR/rocketkv-e2e-fp8.json   the same with an fp8 KV cache
#              (not in the default PARTS: ask for it)
#   downcalls  DowncallOverhead    -> OUT_DIR/downcalls.json         FFM vs JCuda driver calls (JMH)
#   sdpa       torch_attention.py  -> OUT_DIR/torch-attention.json   PyTorch SDPA decode and causal prefill (flash,
#                                                                    cuDNN), same shapes
#   hf         transformers_e2e.py -> OUT_DIR/transformers-e2e.json  transformers generation, same checkpoint
#
# plus OUT_DIR/run.json (commit, date, driver, GPU, each part's exit status and seconds, also of earlier
# invocations into the same OUT_DIR: parts.jsonl) and OUT_DIR/*.log. To split the run over two invocations,
# e.g. PARTS=ckpt,sweep,e2e then PARTS=ckpt,downcalls,sdpa,hf (ckpt reuses the checkpoint when it is there).
# Then: benchmarks/plots.sh OUT_DIR   (docs/performance-gpu.md and docs/images/gpu-*.png).
#
# Environment: ROCKETKV_COMMIT (the commit to record where the tree has no .git); JAVA_ARGS (more JVM options for
# the Java parts, e.g. -Drocketkv.cuda.prefillKernel=wgmma, recorded in run.json);
# PARTS (default ckpt,sweep,e2e,downcalls,sdpa,hf); budgets in seconds BUDGET_SWEEP (110),
# BUDGET_E2E (180, also e2e_fp8's), BUDGET_HF (100), BUDGET_CKPT (75), BUDGET_DOWNCALLS (50), BUDGET_SDPA (60): about 9 minutes
# at most. --quick: a 2-layer checkpoint, small grids, to check the pipeline in about 2 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: benchmarks/peers/run_all.sh OUT_DIR [--quick]}
quick=${2:-}
if [[ -n "$quick" && "$quick" != "--quick" ]]; then
  echo "run_all: the second argument may only be --quick, got $quick" >&2
  exit 2
fi
parts=${PARTS:-ckpt,sweep,e2e,downcalls,sdpa,hf}
for p in ${parts//,/ }; do
  case "$p" in ckpt|sweep|e2e|e2e_fp8|downcalls|sdpa|hf) ;; *) echo "run_all: unknown part $p in PARTS" >&2; exit 2 ;; esac
done
for f in .gpu/jre.tar.xz .gpu/classpath; do
  [[ -f "$f" ]] || { echo "run_all: $f is missing (build the .gpu bundle first)" >&2; exit 2; }
done
mkdir -p "$out"
[[ -x /tmp/jre/bin/java ]] || tar -xJf .gpu/jre.tar.xz -C /tmp
model=${ROCKETKV_BENCH_MODEL:-/tmp/rocketkv-llama8b-random}
layers=32
if [[ -n "$quick" ]]; then
  model=${model}-2layers
  layers=2
fi
commit=${ROCKETKV_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
read -ra java_args <<< "${JAVA_ARGS:-}"
java=(/tmp/jre/bin/java -Xmx24g --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector
  -Djava.awt.headless=true "${java_args[@]}" -cp "$(cat .gpu/classpath)")

# part NAME BUDGET_SECONDS COMMAND...: runs COMMAND (stopped at BUDGET + 30 s), logs to OUT_DIR/NAME.log
part() {
  local name=$1 budget=$2
  shift 2
  if [[ ",$parts," != *",$name,"* ]]; then
    return
  fi
  echo "== $name (budget ${budget} s)"
  local t0=$SECONDS
  timeout --kill-after=10 $((budget + 30)) "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "{\"part\": \"$name\", \"exit\": $rc, \"seconds\": $((SECONDS - t0)), \"budget\": $budget}" >> "$out/parts.jsonl"
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
}

q() { [[ -n "$quick" ]] && echo "$1" || echo "$2"; }

part ckpt "${BUDGET_CKPT:-75}" python3 benchmarks/peers/make_checkpoint.py --out "$model" --layers "$layers"
part sweep "${BUDGET_SWEEP:-110}" "${java[@]}" io.rocketkv.benchmarks.gpu.GpuBenchmarkRunner \
  --out "$out/rocketkv-gpu.json" --commit "$commit" --driver "${driver:-unknown}" --budget-s "${BUDGET_SWEEP:-110}" $quick
part e2e "${BUDGET_E2E:-180}" "${java[@]}" io.rocketkv.benchmarks.gpu.EndToEndBench --model "$model" \
  --out "$out/rocketkv-e2e.json" --commit "$commit" --driver "${driver:-unknown}" --budget-s "${BUDGET_E2E:-180}" $quick
part e2e_fp8 "${BUDGET_E2E:-180}" "${java[@]}" io.rocketkv.benchmarks.gpu.EndToEndBench --model "$model" \
  --out "$out/rocketkv-e2e-fp8.json" --commit "$commit" --driver "${driver:-unknown}" --budget-s "${BUDGET_E2E:-180}" \
  --kv-cache-dtype fp8 $quick
part downcalls "${BUDGET_DOWNCALLS:-50}" "${java[@]}" io.rocketkv.benchmarks.downcall.DowncallOverhead \
  --out "$out/downcalls.json"
part sdpa "${BUDGET_SDPA:-60}" python3 benchmarks/peers/torch_attention.py --out "$out/torch-attention.json" \
  --contexts "$(q 4096,32768 4096,8192,16384,32768,65536,131072)" --batches "$(q 1,8 1,8,32,64)" \
  --prefill-lengths "$(q 4096,32768 4096,8192,16384,32768,65536,131072)"
part hf "${BUDGET_HF:-100}" python3 benchmarks/peers/transformers_e2e.py --model "$model" \
  --out "$out/transformers-e2e.json" --contexts "$(q 8192 8192,32768,131072)" --new-tokens "$(q 16 64)" \
  --budget-s "${BUDGET_HF:-100}"

{
  echo "{"
  echo "  \"commit\": \"$commit\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"driver\": \"${driver:-unknown}\","
  echo "  \"java_args\": \"${JAVA_ARGS:-}\","
  echo "  \"gpu\": \"${gpu:-unknown}\","
  echo "  \"quick\": $([[ -n "$quick" ]] && echo true || echo false),"
  echo "  \"model\": \"$model\","
  echo "  \"parts\": ["
  [[ -f "$out/parts.jsonl" ]] && sed 's/^/    /; $!s/$/,/' "$out/parts.jsonl"
  echo "  ]"
  echo "}"
} > "$out/run.json"
echo "run_all: wrote $(ls "$out" | tr '\n' ' ')"
echo "run_all: next, here: benchmarks/plots.sh $out"
