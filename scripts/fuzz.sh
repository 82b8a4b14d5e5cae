#!/usr/bin/env bash
# The GGUF reader under libFuzzer (a long run, not part of test.sh).
# Usage: scripts/fuzz.sh [seconds, default 600]. Installs clang and its
# fuzzer runtime if missing, builds into ./build-fuzz, seeds ./build-fuzz/corpus.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-600}"
"$root/scripts/install_deps.sh" clang libclang-rt-14-dev
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DRMA_BUILD_FUZZ=ON \
  -DRMA_BUILD_TESTS=OFF -DRMA_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target gguf_fuzz gguf_fuzz_seeds
mkdir -p "$build/corpus"
"$build/bin/gguf_fuzz_seeds" "$build/corpus"
"$build/bin/gguf_fuzz" "$build/corpus" -max_total_time="$seconds" -rss_limit_mb=2048
