#!/usr/bin/env bash
# Installs the LiteLLM proxy into its own venv (.tools/litellm-venv, git-ignored), pinned.
# LiteLLM's dependency tree (~750 MB) conflicts with nothing of ours only while it stays out of
# the project venv, hence the separate venv. A second run with the pinned version present only
# checks it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/phase.sh
source "$root/scripts/lib/phase.sh"
venv="$root/.tools/litellm-venv"
# 1.108.0: the newest release whose [proxy] extra resolves from PyPI here (later ones pin
# litellm-proxy / litellm-proxy-extras versions the index does not carry), and past 1.107.0,
# the release that was compromised on PyPI. Change it only to a version `pip install
# --dry-run "litellm[proxy]==X"` resolves, and rerun tests/integration/test_litellm.py.
LITELLM_VERSION="${SYMPHONY_LITELLM_VERSION:-1.108.0}"

installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null || true
}

if [ -x "$venv/bin/litellm" ] && [ "$(installed_version)" = "$LITELLM_VERSION" ]; then
  echo "litellm ${LITELLM_VERSION} present in ${venv#"$root"/}"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
phase "installing litellm[proxy]==${LITELLM_VERSION} into ${venv#"$root"/} (~750 MB, a few minutes)" \
  "$venv/bin/python" -m pip install --quiet "litellm[proxy]==${LITELLM_VERSION}"
"$venv/bin/litellm" --version >/dev/null 2>&1 || {
  echo "error: litellm installed but its CLI does not start; see: $venv/bin/litellm --version" >&2
  exit 1
}
echo "litellm $(installed_version) installed"
