#!/usr/bin/env bash
# Installs the build and test dependencies from Debian's packages.
# Idempotent: installs only what is missing; apt-get update runs only then.
# Extra package names given as arguments are installed the same way.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libhwy-dev libopenblas-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libclblast-dev
  python3-venv python3-dev
  libhiredis-dev redis-server libssl-dev libxxhash-dev
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all packages present"
fi
