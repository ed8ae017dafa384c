#!/usr/bin/env bash
# The GPU benchmark in one command: our runner (GpuBenchmarkRunner, with the bundled JRE) and the PyTorch
# peer (torch_attention.py) on the same GPU, one after the other, both JSONs into one directory:
#
#   benchmarks/peers/run_all.sh OUT_DIR [--quick]
#
# Run from the repository root on the GPU machine with the .gpu bundle present (.gpu/jre.tar.xz and
# .gpu/classpath, built with the runner's classes in it) and python3 with torch for the peer. Writes
#   OUT_DIR/rocketkv-gpu.json     ceilings, decode and prefill sweeps (io.rocketkv.benchmarks.gpu.GpuReport)
#   OUT_DIR/torch-attention.json  PyTorch SDPA decode over the same shapes
#   OUT_DIR/*.log                 what each printed
# Then plot them: benchmarks/plots.sh OUT_DIR/rocketkv-gpu.json OUT_DIR/torch-attention.json
# --quick runs a small grid (contexts 4k and 32k, batch 1 and 8) to check the pipeline.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: benchmarks/peers/run_all.sh OUT_DIR [--quick]}
quick=${2:-}
if [[ -n "$quick" && "$quick" != "--quick" ]]; then
  echo "run_all: the second argument may only be --quick, got $quick" >&2
  exit 2
fi
for f in .gpu/jre.tar.xz .gpu/classpath; do
  [[ -f "$f" ]] || { echo "run_all: $f is missing (build the .gpu bundle first)" >&2; exit 2; }
done
mkdir -p "$out"
[[ -x /tmp/jre/bin/java ]] || tar -xJf .gpu/jre.tar.xz -C /tmp
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1 || true)

/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED -cp "$(cat .gpu/classpath)" \
  io.rocketkv.benchmarks.gpu.GpuBenchmarkRunner --out "$out/rocketkv-gpu.json" \
  --commit "$commit" --driver "${driver:-unknown}" $quick 2>&1 | tee "$out/rocketkv-gpu.log"

peer_args=()
[[ -n "$quick" ]] && peer_args=(--contexts 4096,32768 --batches 1,8)
python3 benchmarks/peers/torch_attention.py --out "$out/torch-attention.json" "${peer_args[@]}" 2>&1 \
  | tee "$out/torch-attention.log"
echo "run_all: wrote $out/rocketkv-gpu.json and $out/torch-attention.json"
