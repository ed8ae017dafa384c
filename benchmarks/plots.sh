#!/usr/bin/env bash
# Regenerates the GPU plots of docs/performance.md (docs/images/gpu-*.png) from the runner's JSON and the
# PyTorch peer's JSON. Run from the repository root with a JDK 25 (JAVA_HOME or java on PATH):
#
#   benchmarks/plots.sh [RUNNER_JSON [PEER_JSON|-]]
#
# Without arguments it plots the 2026-11-28 H200 figures (transcribed from cuda-h200.txt into
# benchmarks/src/test/resources/gpu/) until a GpuBenchmarkRunner sweep replaces them, e.g.
#   benchmarks/plots.sh benchmarks/results/DATE/rocketkv-gpu.json benchmarks/results/DATE/torch-attention.json
set -euo pipefail
cd "$(dirname "$0")/.."
runner=${1:-benchmarks/src/test/resources/gpu/h200-2026-11-28-transcribed.json}
peer=${2:-benchmarks/results/2026-11-28/torch-attention-h200.json}
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
./mvnw -B -q -pl benchmarks -am package -DskipTests
"$java_bin" -Djava.awt.headless=true -cp benchmarks/target/benchmarks.jar \
  io.rocketkv.benchmarks.report.PerformancePlots "$runner" "$peer" docs/images
