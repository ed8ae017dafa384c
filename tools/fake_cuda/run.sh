#!/usr/bin/env bash
# Runs rocketkv-cuda's gpu-tagged tests against the host-memory fakes in this directory (a developer aid
# for machines without a GPU; not part of CI). From the repository root, after ./mvnw install:
#   tools/fake_cuda/run.sh
# Expect every gpu test to pass and the four "CUDA unavailable" tests to be aborted (CUDA looks available).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
gcc -O2 -shared -fPIC -o "$out/libcuda.so.1" "$here/fakecuda.c" -lm
gcc -O2 -shared -fPIC -o "$out/libcublas.so.13" "$here/fakecublas.c"
java="${JAVA_HOME:-$(ls -d /usr/lib/jvm/temurin-25* | head -1)}/bin/java"
m2="${HOME}/.m2/repository"
console=$(ls "$m2"/org/junit/platform/junit-platform-console-standalone/*/junit-platform-console-standalone-*.jar 2>/dev/null | tail -1)
if [[ -z "$console" ]]; then
  ./mvnw -q -B dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1
  console=$(ls "$m2"/org/junit/platform/junit-platform-console-standalone/*/junit-platform-console-standalone-*.jar | tail -1)
fi
cp_file="$out/cp"
./mvnw -q -B -o -pl rocketkv-cuda dependency:build-classpath -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=test
cp="rocketkv-cuda/target/classes:rocketkv-cuda/target/test-classes:$(cat "$cp_file")"
LD_LIBRARY_PATH="$out" "$java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -jar "$console" execute --class-path "$cp" \
  --select-package io.rocketkv.cuda --disable-banner --details=tree "$@"
