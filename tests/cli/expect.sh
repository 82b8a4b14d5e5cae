#!/usr/bin/env bash
# expect.sh EXIT_CODE REGEX COMMAND...
# Runs COMMAND; passes when it exits with EXIT_CODE and its output (stdout
# and stderr together) matches the extended regular expression REGEX
# (empty: anything). CTest alone can check one or the other, not both.
set -u
want_rc=$1
regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
fail() {
  echo "FAILED: $*"
  echo "command: $*"
  echo "----- output -----"
  echo "$out"
  exit 1
}
[ "$rc" -eq "$want_rc" ] || fail "exit code $rc, expected $want_rc: $*"
if [ -n "$regex" ] && ! grep -Eq -- "$regex" <<<"$out"; then
  fail "output does not match /$regex/: $*"
fi
echo "$out" | tail -n 5
exit 0
