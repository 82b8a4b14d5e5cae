#!/usr/bin/env bash
# Creates ./.venv with the pinned packages of scripts/requirements-test.txt
# (Hugging Face transformers/tokenizers and torch: the independent oracles of
# the LLM tests). Idempotent: a stamp holding the requirements' hash skips
# the install when nothing changed. Usage: install_python.sh [requirements...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${RMA_VENV:-$root/.venv}"
reqs=("$@")
nodeps=()
if [ ${#reqs[@]} -eq 0 ]; then
  reqs=("$root/scripts/requirements-test.txt")
  nodeps=("$root/scripts/requirements-nodeps.txt")
fi

python="$(command -v python3)"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv
fi

stamp="$venv/.rma-stamp"
want="$(cat "${reqs[@]}" "${nodeps[@]}" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && grep -qx "$want" "$stamp"; then
  echo "install_python: $venv up to date"
  exit 0
fi
echo "install_python: installing ${reqs[*]} into $venv"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
for r in "${reqs[@]}"; do
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$r"
done
for r in "${nodeps[@]}"; do
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$r"
done
echo "$want" >"$stamp"
