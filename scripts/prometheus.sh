#!/usr/bin/env bash
# start|stop for Prometheus (Debian package) on ${PROM_ADDR:-127.0.0.1:9090} with
# prometheus/prometheus.yml (scrapes the proxy on 8787 and OPA on 8181, loads the alert rules);
# data in .run/prometheus, log in .run/prometheus.log (through the log sink; docs/logs.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
addr="${PROM_ADDR:-127.0.0.1:9090}"

ready() { curl -fsS "http://$addr/-/ready" >/dev/null 2>&1; }

case "${1:-start}" in
  start)
    service_start prometheus ready 30 -- prometheus --config.file=prometheus/prometheus.yml \
      --storage.tsdb.path="$root/.run/prometheus" --web.listen-address="$addr"
    echo "prometheus up on http://$addr (log: $service_run_dir/prometheus.log)"
    ;;
  stop) service_stop prometheus ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
