#!/usr/bin/env bash
# The file readers under libFuzzer (long runs, not part of test.sh).
# Usage: scripts/fuzz.sh [gguf|onnx|rmx] [seconds, default 600]. Installs clang
# and its fuzzer runtime if missing, builds into ./build-fuzz, seeds
# ./build-fuzz/corpus-<target>.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target=gguf
if [[ "${1:-}" == gguf || "${1:-}" == onnx || "${1:-}" == rmx ]]; then
  target=$1
  shift
fi
seconds="${1:-600}"
"$root/scripts/install_deps.sh" clang libclang-rt-14-dev
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DRMA_BUILD_FUZZ=ON \
  -DRMA_BUILD_TESTS=OFF -DRMA_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
corpus="$build/corpus-$target"
mkdir -p "$corpus"
if [[ $target == gguf ]]; then
  cmake --build "$build" --target gguf_fuzz gguf_fuzz_seeds
  "$build/bin/gguf_fuzz_seeds" "$corpus"
elif [[ $target == rmx ]]; then
  cmake --build "$build" --target rmx_fuzz rmx_fuzz_seeds
  # (the runtime is process-wide and lives to exit: no leak report for the
  # seed writer, which is not what is being fuzzed)
  ASAN_OPTIONS=detect_leaks=0 "$build/bin/rmx_fuzz_seeds" "$corpus"
else
  cmake --build "$build" --target onnx_fuzz
  "$root/scripts/install_python.sh" >/dev/null
  "$root/.venv/bin/python" "$root/tests/onnx/make_models.py" --corpus "$corpus"
fi
"$build/bin/${target}_fuzz" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048
