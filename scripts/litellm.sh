#!/usr/bin/env bash
# start|stop|status for the LiteLLM proxy (from .tools/litellm-venv, see scripts/setup-litellm.sh)
# on 127.0.0.1:${SYMPHONY_LITELLM_PORT:-4000} with deploy/litellm/config.yaml (or
# $SYMPHONY_LITELLM_CONFIG). Needs LITELLM_MASTER_KEY (sk-...). Runs offline: LiteLLM's remote
# catalogues (cost map, blog posts, header configs, templates) come from its bundled copies.
# Log (.run/litellm.log, JSON lines through the log sink; docs/logs.md) and pidfile under
# .run/ (git-ignored; SYMPHONY_RUN_DIR moves it). Starting a running proxy is a no-op.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/litellm-venv"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
log="$service_run_dir/litellm.log"
host="127.0.0.1"
port="${SYMPHONY_LITELLM_PORT:-4000}"
config="${SYMPHONY_LITELLM_CONFIG:-$root/deploy/litellm/config.yaml}"
url="http://$host:$port"

# Offline: without these LiteLLM fetches JSON catalogues from GitHub at start and retries for
# seconds before falling back to the copies it ships.
export LITELLM_LOCAL_MODEL_COST_MAP=True
export LITELLM_LOCAL_BLOG_POSTS=True
export LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True
export LITELLM_LOCAL_POLICY_TEMPLATES=True
export LITELLM_LOCAL_AUTOROUTER_PRESETS=True
export HF_HUB_OFFLINE=1
export SYMPHONY_LOCAL_MODEL_URL="${SYMPHONY_LOCAL_MODEL_URL:-http://127.0.0.1:${SYMPHONY_LOCAL_MODEL_PORT:-11434}/v1}"

alive() { "$venv/bin/python" -c 'import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=1) as r:
    sys.exit(0 if r.status == 200 else 1)' "$url/health/liveliness" >/dev/null 2>&1; }

start() {
  if pid="$(service_running_pid litellm)"; then
    echo "litellm already running (pid $pid) at $url"
    return 0
  fi
  if [ ! -x "$venv/bin/litellm" ]; then
    echo "error: LiteLLM is not installed in ${venv#"$root"/}: run \`just litellm\` (scripts/setup-litellm.sh)" >&2
    exit 1
  fi
  if [ -z "${LITELLM_MASTER_KEY:-}" ]; then
    echo "error: LITELLM_MASTER_KEY is not set; LiteLLM must require a key (e.g. export LITELLM_MASTER_KEY=sk-\$(openssl rand -hex 16))" >&2
    exit 1
  fi
  case "$LITELLM_MASTER_KEY" in
    sk-*) ;;
    *) echo "error: LITELLM_MASTER_KEY must start with sk-" >&2; exit 1 ;;
  esac
  [ -f "$config" ] || { echo "error: config not found: $config" >&2; exit 1; }
  service_start litellm alive "${SYMPHONY_LITELLM_START_TIMEOUT:-120}" -- \
    "$venv/bin/litellm" --config "$config" --host "$host" --port "$port"
  echo "litellm up (pid $(cat "$service_run_dir/litellm.pid")) at $url/v1 with ${config#"$root"/} (log: $log)"
}

status() {
  if pid="$(service_running_pid litellm)" && alive; then
    echo "litellm running (pid $pid) at $url/v1"
  elif pid="$(service_running_pid litellm)"; then
    echo "litellm starting or stuck (pid $pid); see $log"
    return 1
  else
    echo "litellm not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) service_stop litellm ;;
  status) status ;;
  restart) service_stop litellm; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
