#!/usr/bin/env bash
# The main job: install, build, fetch the default model (SmolLM2-135M-Instruct,
# Q4_1 GGUF) and chat with it on the default device (RM_DEVICE, else auto).
# Extra arguments go to `rma generate` (e.g. --device opencl:0).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install_deps.sh"
"$root/scripts/fetch_model.sh" smollm2-135m
"$root/scripts/build.sh"
"$root/build/bin/rma" generate -m smollm2-135m --chat -n 128 \
  -p "Explain in two sentences why the sky is blue." "$@"
