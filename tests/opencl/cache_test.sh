#!/usr/bin/env bash
# The OpenCL program binary cache: `rma test opencl:0 --op add` twice on a
# fresh cache folder; the first run compiles and stores (cache miss), the
# second loads (cache hit, no miss). Then a corrupted entry must be logged,
# rebuilt and never used, and the run must still pass.
# Usage: cache_test.sh <path to rma>
set -uo pipefail
rma=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export RM_CACHE_DIR=$dir RM_LOG_LEVEL=debug RM_PLUGIN_PATH= RM_DEVICE= RM_CACHE_ENABLED=1

run() {  # run <label>: runs the suite, fails the test unless it passes
  out=$("$rma" test opencl:0 --op add 2>&1)
  local rc=$?
  if ((rc != 0)) || ! grep -qE "^[1-9][0-9]* passed, 0 failed" <<<"$out"; then
    echo "FAIL ($1): rma test opencl:0 --op add exited $rc:"; echo "$out"; exit 1
  fi
}
expect() {  # expect <label> <regex>
  grep -qE "$2" <<<"$out" || { echo "FAIL ($1): no line matching '$2' in:"; echo "$out"; exit 1; }
}
reject() {  # reject <label> <regex>
  ! grep -qE "$2" <<<"$out" || { echo "FAIL ($1): unexpected '$2' in:"; echo "$out"; exit 1; }
}

# No OpenCL device on this machine (plugin built, no ICD): skip (CTest 77).
if ! "$rma" info 2>/dev/null | grep -qE "^  opencl:0$"; then
  echo "SKIP: no opencl:0 device"; exit 77
fi

run cold
expect cold "opencl cache miss: binary/binary"
ls "$dir"/opencl/*.bin >/dev/null 2>&1 || { echo "FAIL: no cache entry under $dir/opencl"; exit 1; }
run warm
expect warm "opencl cache hit: binary/binary"
reject warm "opencl cache miss"

# Flip bytes in the payload: the checksum must catch it.
for f in "$dir"/opencl/*.bin; do
  printf 'garbage' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
done
run corrupt
expect corrupt "ignoring entry .*checksum"
reject corrupt "opencl cache hit"
run rebuilt
expect rebuilt "opencl cache hit: binary/binary"

# RM_CACHE_ENABLED=0: no cache use at all.
rm -rf "$dir"/opencl
RM_CACHE_ENABLED=0 run disabled
reject disabled "opencl cache (hit|miss)"
[ ! -e "$dir/opencl" ] || { echo "FAIL: RM_CACHE_ENABLED=0 still wrote $dir/opencl"; exit 1; }
echo "opencl cache: miss, hit, corrupt entry rebuilt, disabled: ok"
