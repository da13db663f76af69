#!/usr/bin/env bash
# Creates the project venv with `just` in it (from PyPI, rust-just), then runs a Justfile recipe.
#   bash scripts/bootstrap.sh up     # set everything up and start the stack
#   bash scripts/bootstrap.sh test   # set everything up and run every check and test
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; Symphony needs Python >= 3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/just ]; then
  "$python" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet rust-just
fi
exec .venv/bin/just "$@"
