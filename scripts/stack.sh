#!/usr/bin/env bash
# up|down for the whole local stack, in the background:
#   local model server (11434) -> Symphony proxy under gunicorn (8787) -> OPA sidecar (8181),
#   which pulls the active policy revision from the proxy as a bundle.
# The proxy keeps policy revisions in its store (SQLite under .data/ unless
# SYMPHONY_DATABASE_URL names a PostgreSQL), seeded from SYMPHONY_POLICY_FILE when empty.
# Every service's output is appended to .run/<name>.log through the log sink (docs/logs.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
bind="${SYMPHONY_BIND:-127.0.0.1:8787}"
export SYMPHONY_OPA_URL="${SYMPHONY_OPA_URL:-http://${SYMPHONY_OPA_ADDR:-127.0.0.1:8181}}"
export SYMPHONY_LOCAL_MODEL_URL="${SYMPHONY_LOCAL_MODEL_URL:-http://127.0.0.1:${SYMPHONY_LOCAL_MODEL_PORT:-11434}/v1}"
# Operations (SYMPHONY_OPS=on): Prometheus and Alertmanager beside the proxy, which then files
# incidents from alerts and mutes warnings while their ticket is open (docs/runbooks.md).
ops="${SYMPHONY_OPS:-off}"
if [ "$ops" = on ]; then
  export SYMPHONY_ALERTMANAGER_URL="${SYMPHONY_ALERTMANAGER_URL:-http://${ALERTMANAGER_ADDR:-127.0.0.1:9093}}"
fi

# Any HTTP answer will do (health is 503 until OPA has the bundle, and OPA starts after).
proxy_answers() { curl -sS --max-time 5 -o /dev/null "http://$bind/status/health.json" 2>/dev/null; }

# Where the admin key is, for the message: the environment, or the file the proxy wrote.
admin_key_source() {
  if [ -n "${SYMPHONY_ADMIN_KEY:-}" ]; then
    echo "SYMPHONY_ADMIN_KEY (from the environment)"
  else
    echo "${SYMPHONY_DATA_DIR:-.data}/admin.key"
  fi
}

admin_header() {
  if [ -n "${SYMPHONY_ADMIN_KEY:-}" ]; then
    echo "-H \"Authorization: Bearer \$SYMPHONY_ADMIN_KEY\""
  else
    echo "-H \"Authorization: Bearer \$(cat ${SYMPHONY_DATA_DIR:-.data}/admin.key)\""
  fi
}

up() {
  bash scripts/local-model.sh start
  # One worker with threads: counters, metrics and websockets live in one process. Gunicorn's
  # error and access lines are JSON on its output (app.logs.GunicornLogger), in proxy.log.
  service_start proxy proxy_answers 30 -- .venv/bin/symphony serve --bind "$bind"
  SYMPHONY_BIND="$bind" bash deploy/opa/start.sh start
  SYMPHONY_BIND="$bind" bash deploy/opa/start.sh ready
  if [ "$ops" = on ]; then
    SYMPHONY_BIND="$bind" bash scripts/alertmanager.sh start
    bash scripts/prometheus.sh start
  fi
  cat <<MSG

Symphony is up:
  dashboard   http://$bind/
  admin key   $(admin_key_source)
  plan        curl -s -X POST $bind/route/plan $(admin_header) -H 'content-type: application/json' -d '{"task":"qa","loa":1}'
  policy      curl -s $bind/policy $(admin_header)
  health      http://$bind/status/health.json
  metrics     http://$bind/metrics
  logs        $service_run_dir/*.log (JSON lines; docs/logs.md)   stop with: .venv/bin/just down
MSG
}

down() {
  bash scripts/prometheus.sh stop
  bash scripts/alertmanager.sh stop
  bash deploy/opa/start.sh stop
  service_stop proxy
  bash scripts/local-model.sh stop
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
