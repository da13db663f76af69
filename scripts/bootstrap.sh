#!/usr/bin/env bash
# Creates the project venv with `just` in it (from PyPI, rust-just), then runs a Justfile recipe.
#   bash scripts/bootstrap.sh run    # install what running needs, start the stack
#   bash scripts/bootstrap.sh test   # install the rest too, run every check and test
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/phase.sh
source "$root/scripts/lib/phase.sh"
started="$(phase_now)"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; Symphony needs Python >= 3.11" >&2
  exit 1
fi
venv_with_just() {
  "$python" -m venv .venv &&
    .venv/bin/pip install --quiet --upgrade pip &&
    .venv/bin/pip install --quiet rust-just
}
if [ ! -x .venv/bin/just ]; then
  phase "the project venv (.venv) with just" venv_with_just
fi
.venv/bin/just "$@"
echo "bootstrap $*: done in $(($(phase_now) - started)) s"
