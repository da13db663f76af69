#!/usr/bin/env bash
# Starts or stops the whole local stack in the background:
#   OPA sidecar (8181) -> local model server (11434) -> Symphony proxy under gunicorn (8787).
# The proxy loads the stored policy (seeded from SYMPHONY_POLICY_FILE) and pushes it to OPA.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
run="$root/.run"
mkdir -p "$run"
bind="${SYMPHONY_BIND:-127.0.0.1:8787}"
export SYMPHONY_OPA_URL="${SYMPHONY_OPA_URL:-http://${SYMPHONY_OPA_ADDR:-127.0.0.1:8181}}"
export SYMPHONY_LOCAL_MODEL_URL="${SYMPHONY_LOCAL_MODEL_URL:-http://127.0.0.1:${SYMPHONY_LOCAL_MODEL_PORT:-11434}/v1}"
pidfile="$run/proxy.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

up() {
  bash deploy/opa/start.sh start
  bash scripts/local-model.sh start
  if running; then
    echo "proxy already running (pid $(cat "$pidfile"))"
  else
    # One worker with threads: counters, metrics and websockets live in one process.
    .venv/bin/gunicorn --workers 1 --threads "${SYMPHONY_THREADS:-32}" --bind "$bind" \
      --access-logfile "$run/access.log" --graceful-timeout 5 --no-control-socket \
      --pid "$pidfile" "app:create_app()" >"$run/proxy.log" 2>&1 &
    for _ in $(seq 1 150); do
      if curl -fsS "http://$bind/policy" >/dev/null 2>&1; then break; fi
      sleep 0.2
    done
    if ! curl -fsS "http://$bind/policy" >/dev/null 2>&1; then
      echo "error: the proxy did not start; see .run/proxy.log" >&2
      tail -n 30 "$run/proxy.log" >&2 || true
      exit 1
    fi
  fi
  echo
  echo "Symphony is up:"
  echo "  dashboard   http://$bind/"
  echo "  plan        curl -s -X POST $bind/route/plan -H 'content-type: application/json' -d '{\"task\":\"qa\",\"loa\":1}'"
  echo "  health      http://$bind/status/health.json"
  echo "  metrics     http://$bind/metrics"
  echo "  logs        .run/*.log        stop with: just down"
}

down() {
  if running; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  rm -f "$pidfile"
  bash scripts/local-model.sh stop || true
  bash deploy/opa/start.sh stop || true
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
