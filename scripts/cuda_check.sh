#!/usr/bin/env bash
# The CUDA backend's check on a machine with an NVIDIA GPU, in one call of
# under 10 minutes: configure and build (Release), `rma info`,
# `rma test cuda:0` (the full conformance suite), the CUDA GoogleTests, the
# CUDA benchmarks (bench/cuda: rma_bench_cuda, then bench_e2e.py with the
# system's python3, torch and transformers) and `rma bench ops --device
# cuda:0`. Everything is written under $OUT (default ./cuda-check-out):
#   summary.txt        machine, toolchain, each step's exit status and seconds,
#                      and the benchmarks' summaries
#   build.log          configure + build
#   info.log           rma info
#   test.log           rma test cuda:0
#   gtests.log         rma_tests --gtest_filter='Cuda*'
#   bench_cuda.log     rma_bench_cuda: linear vs cuBLASLt, prefill and paged
#                      decode attention
#   bench_cuda.jsonl   its cases, one JSON object per line
#   e2e.log            bench_e2e.py: SmolLM2-135M (random weights) bf16 and
#                      q8_0 vs transformers eager, tiny-model correctness
#   e2e.jsonl          its cases
#   bench.log          rma bench ops --device cuda:0
#   ops_cuda.jsonl     the op benchmark, one JSON object per case
#
# The steps run in that order, each with a time limit and at most what is
# left of the budget, so the required figures come before `rma bench ops`.
#
# The machine needs no network. Where it lacks the C++ libraries the build
# needs (Highway, spdlog, fmt, nlohmann-json, CLI11, GoogleTest), fetch their
# Debian packages on a machine that has apt (Debian 12, like CI):
#   scripts/cuda_check.sh fetch-debs        # into ./.debs (add /.debs/ to .git/info/exclude)
# and bring the folder along; the check unpacks them under /tmp/rma-deps
# (never into /) and points CMake and the loader there.
#
# Environment: OUT, RMA_BUILD_DIR (default ./build-cuda-check), JOBS
# (default: all cores), RMA_DEBS (default ./.debs), RMA_CHECK_SECONDS (the
# whole check's budget, default 570: each step gets at most what is left),
# RMA_E2E_PYTHON (default python3: the interpreter with torch, transformers).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [[ "${1:-}" == "fetch-debs" ]]; then
  dest="${2:-$root/.debs}"
  mkdir -p "$dest"
  cd "$dest" || exit 1
  # Headers, CMake configs and the shared libraries they link at run time.
  exec apt-get download libhwy-dev libhwy1 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 \
    nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
fi

out="${OUT:-$root/cuda-check-out}"
build="${RMA_BUILD_DIR:-$root/build-cuda-check}"
jobs="${JOBS:-$(nproc)}"
debs="${RMA_DEBS:-$root/.debs}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
started=$(date +%s)
deadline=$((started + ${RMA_CHECK_SECONDS:-570}))

note() { echo "$*" | tee -a "$summary"; }

# step NAME LOG LIMIT_SECONDS COMMAND...: runs with a time limit (at most
# what is left of the budget), logs, notes the exit status (124: ran out of
# time).
step() {
  local name=$1 log=$2 limit=$3
  shift 3
  local t0 left
  t0=$(date +%s)
  left=$((deadline - t0))
  ((limit > left)) && limit=$left
  if ((limit < 5)); then
    note "$(printf '%-10s skipped: the time budget is spent' "$name")"
    return 124
  fi
  echo "== $name: $*" >>"$log"
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  note "$(printf '%-10s rc=%-3d %4ds  (log: %s)' "$name" "$rc" "$(($(date +%s) - t0))" "$(basename "$log")")"
  return $rc
}

{
  echo "# rma CUDA check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "cpu cores: $(nproc), jobs: $jobs"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo "nvcc: $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo missing)"
  echo "c++: $(c++ --version 2>/dev/null | head -1 || echo missing)"
  echo "cmake: $(cmake --version 2>/dev/null | head -1 || echo missing), ninja: $(ninja --version 2>/dev/null || echo missing)"
} | tee -a "$summary"

cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  -DRMA_WITH_OPENCL=OFF -DRMA_WITH_OPENBLAS=OFF -DRMA_BUILD_TESTS=ON -DRMA_BUILD_BENCH=ON)
if [[ -d "$debs" ]] && compgen -G "$debs/*.deb" >/dev/null; then
  prefix=/tmp/rma-deps
  mkdir -p "$prefix"
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$prefix" || note "could not unpack $f"; done
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  cmake_args+=(-DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_INCLUDE_PATH="$prefix/usr/include"
    -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu")
  note "dependencies: $(ls "$debs"/*.deb | wc -l) packages from $debs unpacked under $prefix"
fi

rma="$build/bin/rma"
if step configure "$out/build.log" 120 cmake "${cmake_args[@]}" &&
  step build "$out/build.log" 330 cmake --build "$build" --parallel "$jobs" \
    --target rma_cli rma_tests rma_cpu rma_cuda rma_bench_cuda llm_probe; then
  step info "$out/info.log" 30 "$rma" info
  step test "$out/test.log" 120 "$rma" test cuda:0
  step gtests "$out/gtests.log" 120 "$build/bin/rma_tests" --gtest_filter='Cuda*'
  step bench_cuda "$out/bench_cuda.log" 150 "$build/bin/rma_bench_cuda" --device cuda:0 \
    --json "$out/bench_cuda.jsonl"
  # Offline: the models are built in the script, nothing is downloaded.
  step e2e "$out/e2e.log" 240 env HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    "${RMA_E2E_PYTHON:-python3}" "$root/bench/cuda/bench_e2e.py" --rma "$rma" \
    --probe "$build/bin/llm_probe" --device cuda:0 --json "$out/e2e.jsonl"
  step bench "$out/bench.log" 120 "$rma" bench ops --device cuda:0 --json "$out/ops_cuda.jsonl"
  {
    grep -E "[0-9]+ passed, [0-9]+ failed" "$out/test.log" | sed 's/^/conformance: /'
    grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$out/gtests.log" | head -20
    sed -n '/^== summary/,/^ran in/p' "$out/bench_cuda.log"
    sed -n '/^tiny Llama/,/llm_probe/p;/^case .*ours tok\/s/,/^batch-1 decode/p' "$out/e2e.log"
  } >>"$summary" 2>/dev/null
else
  note "build failed: see the end of build.log"
  tail -40 "$out/build.log"
fi
note "total $(($(date +%s) - started))s"
