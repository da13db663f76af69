#!/usr/bin/env bash
# Starts Prometheus (Debian package) on ${PROM_ADDR:-127.0.0.1:9090} in the background with
# prometheus/prometheus.yml (scraping the proxy on 8787 and OPA on 8181, loading the alert
# rules); data in .run/prometheus. `stop` ends it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
addr="${PROM_ADDR:-127.0.0.1:9090}"
run="$root/.run"
pidfile="$run/prometheus.pid"
mkdir -p "$run/prometheus"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-start}" in
  start)
    if running; then
      echo "prometheus already running (pid $(cat "$pidfile"))"
      exit 0
    fi
    prometheus --config.file=prometheus/prometheus.yml --storage.tsdb.path="$run/prometheus" \
      --web.listen-address="$addr" >"$run/prometheus.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if curl -fsS "http://$addr/-/ready" >/dev/null 2>&1; then
        echo "prometheus up on http://$addr (log: .run/prometheus.log)"
        exit 0
      fi
      running || break
      sleep 0.2
    done
    echo "error: prometheus did not become ready; see .run/prometheus.log" >&2
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$pidfile")" && echo "prometheus stopped"; fi
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
