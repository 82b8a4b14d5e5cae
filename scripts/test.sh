#!/usr/bin/env bash
# Installs, builds (warnings are errors) and runs every test with CTest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install_deps.sh"
"$root/scripts/build.sh" -DRMA_WERROR=ON
cd "$root/build"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
