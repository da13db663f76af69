#!/usr/bin/env bash
# Starts the OPA sidecar on ${SYMPHONY_OPA_ADDR:-127.0.0.1:8181} over policy/rego, in the
# background, logging decisions to .run/opa.log; waits for /health. `stop` ends it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
addr="${SYMPHONY_OPA_ADDR:-127.0.0.1:8181}"
run="$root/.run"
pidfile="$run/opa.pid"
mkdir -p "$run"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-start}" in
  start)
    if running; then
      echo "opa already running (pid $(cat "$pidfile"))"
      exit 0
    fi
    "$root/.tools/bin/opa" run --server --skip-version-check \
      --addr "$addr" --config-file deploy/opa/config.yaml policy/rego \
      >"$run/opa.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if curl -fsS "http://$addr/health" >/dev/null 2>&1; then
        echo "opa up on http://$addr (log: .run/opa.log)"
        exit 0
      fi
      running || break
      sleep 0.1
    done
    echo "error: opa did not become healthy; see .run/opa.log" >&2
    tail -n 20 "$run/opa.log" >&2 || true
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$pidfile")" && echo "opa stopped"; fi
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
