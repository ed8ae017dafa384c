#!/usr/bin/env bash
# Regenerates the GPU report from the JSON files of one benchmarks/peers/run_all.sh run: the tables in
# docs/performance-gpu.md and the PNGs in docs/images/gpu-*.png (XChart, headless). Run from anywhere in the
# repository with a JDK 25 (JAVA_HOME or java on PATH):
#
#   benchmarks/plots.sh RESULTS_DIR          e.g. benchmarks/results/gpu-2026-12-01
#
# Without an argument it redraws the three attention plots from the 2026-11-28 figures transcribed from
# cuda-h200.txt (benchmarks/src/test/resources/gpu/), as before the runner's sweep existed.
set -euo pipefail
cd "$(dirname "$0")/.."
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
results=${1:-}
if [[ -n "$results" && ! -d "$results" ]]; then
  echo "plots: $results is not a directory (expected the OUT_DIR of benchmarks/peers/run_all.sh)" >&2
  exit 2
fi
./mvnw -B -q -o -pl benchmarks -am package -DskipTests
if [[ -z "$results" ]]; then
  "$java_bin" -Djava.awt.headless=true -cp benchmarks/target/benchmarks.jar \
    io.rocketkv.benchmarks.report.PerformancePlots benchmarks/src/test/resources/gpu/h200-2026-11-28-transcribed.json \
    benchmarks/results/2026-11-28/torch-attention-h200.json docs/images
  exit 0
fi
"$java_bin" -Djava.awt.headless=true -cp benchmarks/target/benchmarks.jar \
  io.rocketkv.benchmarks.report.PerformanceReport "$results" docs/performance-gpu.md docs/images
