#!/usr/bin/env bash
# The main job: install, build, show the devices, and certify the default
# device's ops against the reference.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install_deps.sh"
"$root/scripts/build.sh"
"$root/build/bin/rma" info
"$root/build/bin/rma" test   # the default device: RM_DEVICE, else auto
