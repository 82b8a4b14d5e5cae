#!/usr/bin/env bash
# Installs everything (Debian packages, the Python oracles in ./.venv, the
# default model), builds with warnings as errors and runs every test with CTest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install_deps.sh"
"$root/scripts/install_python.sh"
"$root/scripts/fetch_model.sh" smollm2-135m
"$root/scripts/build.sh" -DRMA_WERROR=ON
cd "$root/build"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
