#!/usr/bin/env bash
# start|stop for the OPA sidecar on ${SYMPHONY_OPA_ADDR:-127.0.0.1:8181} over policy/rego with
# deploy/opa/config.yaml (decision logs to the console, i.e. .run/opa.log); waits for /health.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=../../scripts/lib/service.sh
source "$root/scripts/lib/service.sh"
addr="${SYMPHONY_OPA_ADDR:-127.0.0.1:8181}"

healthy() { curl -fsS "http://$addr/health" >/dev/null 2>&1; }

case "${1:-start}" in
  start)
    service_start opa healthy 20 -- "$root/.tools/bin/opa" run --server --skip-version-check \
      --addr "$addr" --config-file deploy/opa/config.yaml policy/rego
    echo "opa up on http://$addr (log: .run/opa.log)"
    ;;
  stop) service_stop opa ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
