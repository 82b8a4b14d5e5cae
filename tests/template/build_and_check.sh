#!/usr/bin/env bash
# Two checks of the plugin boundary, run by CTest (tests/cli/CMakeLists.txt):
#
#   build_and_check.sh template  RMA CMAKE CC BUILD_DIR SOURCE_DIR WORK_DIR
#     Installs the project (headers included) into a temporary prefix, copies
#     backends/template out of the tree, configures and builds it as a
#     separate CMake project against the installed headers only, then checks
#     that `rma info` shows its device and `rma test template:0 --op add`
#     passes the add cases and reports the rest as unsupported.
#
#   build_and_check.sh bad_plugins  RMA CMAKE CC BUILD_DIR SOURCE_DIR WORK_DIR
#     Builds plugins with a wrong ABI version and one without the entry
#     point; the core must skip each with a reason naming both versions (or
#     the missing symbol) and keep working.
set -euo pipefail
mode=$1 rma=$2 cmake=$3 cc=$4 build_dir=$5 source_dir=$6 work=$7

die() {
  echo "FAILED: $*" >&2
  exit 1
}
# expect_match TEXT REGEX WHAT
expect_match() {
  grep -Eq -- "$2" <<<"$1" || { echo "$1"; die "$3: output does not match /$2/"; }
}

rm -rf "$work"
mkdir -p "$work"

case "$mode" in
template)
  prefix=$work/prefix
  "$cmake" --install "$build_dir" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log"; die "cmake --install $build_dir"; }
  [ -f "$prefix/include/rma/plugin.h" ] || die "install put no rma/plugin.h under $prefix/include"

  # A vendor's copy, outside the rma tree, finding rma through the prefix.
  cp -r "$source_dir/backends/template" "$work/src"
  "$cmake" -S "$work/src" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="-Werror" >"$work/configure.log" ||
    { cat "$work/configure.log"; die "configuring the template"; }
  grep -q "RMA_PLUGIN_HEADER_DIR:PATH=$prefix/include" "$work/build/CMakeCache.txt" ||
    die "the template found rma headers somewhere other than $prefix/include"
  "$cmake" --build "$work/build" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; die "building the template"; }
  [ -f "$work/build/librma_template.so" ] || die "no librma_template.so in $work/build"

  export RM_PLUGIN_PATH=$work/build
  out=$("$rma" info 2>&1) || { echo "$out"; die "rma info"; }
  expect_match "$out" "template:0" "rma info lists the template device"
  expect_match "$out" "template +0\.1\.0 +ABI v1 +1 device\(s\) +$work/build/librma_template.so" \
    "rma info lists the template plugin"
  expect_match "$out" "type +other" "the template device is of type other"

  out=$("$rma" test template:0 --op add 2>&1) || { echo "$out"; die "rma test template:0 --op add"; }
  expect_match "$out" "^add +f32 +a\[7,13\] b\[7,13\] .* pass$" "the same-shape f32 add case passes"
  expect_match "$out" "^[1-9][0-9]* passed, 0 failed, [1-9][0-9]* unsupported$" "add summary"
  ! grep -E " (FAIL|error)$" <<<"$out" || die "a template add case failed"

  # Every other op is declined, none fails.
  out=$("$rma" test template:0 2>&1) || { echo "$out" | tail -n 20; die "rma test template:0"; }
  expect_match "$out" "^[1-9][0-9]* passed, 0 failed, [1-9][0-9]* unsupported$" "full summary"
  passing_ops=$(grep -E " pass$" <<<"$out" | awk '{print $1}' | sort -u | tr '\n' ' ')
  [ "$passing_ops" = "add " ] || die "only add should pass on the template, got: $passing_ops"

  out=$("$rma" ops --device template:0 2>&1) || { echo "$out"; die "rma ops --device template:0"; }
  expect_match "$out" "^add +Y" "rma ops shows add"
  expect_match "$out" "^linear +-" "rma ops shows linear declined"
  ;;

bad_plugins)
  plugins=$work/plugins
  mkdir -p "$plugins"
  inc=$source_dir/include
  "$cc" -shared -fPIC -I"$inc" -DBAD_TABLE_ABI=99 "$source_dir/tests/template/bad_plugin.c" \
    -o "$plugins/librma_badtable.so"
  "$cc" -shared -fPIC -I"$inc" -DREFUSE_ABI=99 "$source_dir/tests/template/bad_plugin.c" \
    -o "$plugins/librma_refuses.so"
  "$cc" -shared -fPIC -I"$inc" -DNO_ENTRY "$source_dir/tests/template/bad_plugin.c" \
    -o "$plugins/librma_noentry.so"
  echo "not a shared library" >"$plugins/librma_garbage.so"

  export RM_PLUGIN_PATH=$plugins RM_LOG_LEVEL=warn
  out=$("$rma" info 2>&1) || { echo "$out"; die "rma info with broken plugins present"; }
  expect_match "$out" "Skipped plugins:" "rma info lists skipped plugins"
  expect_match "$out" "ABI mismatch: plugin implements ABI v99, core speaks v1\.\.v1" \
    "a table claiming ABI v99 is skipped naming both versions"
  expect_match "$out" "ABI mismatch: core speaks ABI v1\.\.v1; plugin says: badabi plugin needs ABI v99" \
    "a plugin refusing the core's ABI is skipped naming both versions"
  expect_match "$out" "librma_noentry\.so" "the plugin without an entry point is listed"
  expect_match "$out" "missing symbol rma_plugin_open" "the missing entry point is named"
  expect_match "$out" "librma_garbage\.so" "a file that is no library is listed"
  expect_match "$out" "^  cpu$" "the cpu device still loads"
  # The warning goes to the log as well, naming the plugin file.
  expect_match "$out" "librma_badtable\.so skipped: ABI mismatch" "a warning is logged"

  out=$("$rma" info --json 2>/dev/null) || die "rma info --json with broken plugins present"
  expect_match "$out" "\"skipped_plugins\"" "JSON lists skipped plugins"

  out=$("$rma" test cpu --op add 2>&1) || { echo "$out"; die "rma test cpu with broken plugins present"; }
  expect_match "$out" "0 failed" "the suite still runs"
  ;;
*)
  die "unknown mode '$mode' (template or bad_plugins)"
  ;;
esac
echo "ok: $mode"
