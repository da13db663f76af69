#!/usr/bin/env bash
# start|stop for the OPA sidecar on ${SYMPHONY_OPA_ADDR:-127.0.0.1:8181}. It pulls its policy
# as a bundle from the proxy at ${SYMPHONY_BUNDLE_URL:-http://$SYMPHONY_BIND} (long polling),
# authenticated with the sidecar key (SYMPHONY_SIDECAR_KEY, else the file the proxy wrote:
# ${SYMPHONY_DATA_DIR:-.data}/sidecar.key), keeps the last bundle in .run/<name>-persist for
# restarts, and refuses every REST write (the bundle owns every path). Decision logs go to the
# console, masked and filtered by policy/rego/logmask.rego (shipped in the bundle), i.e. to
# .run/<name>.log through the log sink (appended, capped, rotated; docs/logs.md).
# `start` waits until OPA answers; `ready` also waits until the bundle is activated.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=../../scripts/lib/service.sh
source "$root/scripts/lib/service.sh"
addr="${SYMPHONY_OPA_ADDR:-127.0.0.1:8181}"
name="${SYMPHONY_OPA_NAME:-opa}"
bundle_url="${SYMPHONY_BUNDLE_URL:-http://${SYMPHONY_BIND:-127.0.0.1:8787}}"

healthy() { curl -fsS "http://$addr/health" >/dev/null 2>&1; }
activated() { curl -fsS "http://$addr/health?bundles" >/dev/null 2>&1; }

# deploy/opa/config.yaml reads the key as ${SYMPHONY_SIDECAR_KEY}; OPA substitutes it.
export_sidecar_key() {
  local file="${SYMPHONY_DATA_DIR:-$root/.data}/sidecar.key"
  if [ -z "${SYMPHONY_SIDECAR_KEY:-}" ] && [ -s "$file" ]; then
    SYMPHONY_SIDECAR_KEY="$(tr -d '[:space:]' <"$file")"
  fi
  if [ -z "${SYMPHONY_SIDECAR_KEY:-}" ]; then
    echo "error: no sidecar key for $name: set SYMPHONY_SIDECAR_KEY, or start the proxy first" \
      "(it writes $file)" >&2
    exit 1
  fi
  export SYMPHONY_SIDECAR_KEY
}

case "${1:-start}" in
  start)
    export_sidecar_key
    # GOGC=400: OPA's heap is small, and a lazier collector leaves the CPU to decisions
    # (measured: /route/plan at concurrency 8 went from about 470 to 600-780 decisions/s).
    # --optimize-store-for-read-speed: the store keeps the document as Rego values, so a
    # query does not convert it from JSON again (bench/rego.py: reading the rules went
    # from about 16 to 5 µs; the whole decision a few per cent).
    # --log-level=error: OPA's server log writes an info line per request ("Sent response.")
    # before the answer leaves, ~25 µs a decision; errors (a bundle that does not download or
    # activate) are still logged, and activations reach the proxy's health by status reports.
    # The decision log has its own console logger and is not affected.
    # GOMAXPROCS=1: a sidecar serves one proxy worker (itself one core); with one processor
    # Go does not spin threads looking for work between decisions. Measured side by side:
    # OPA's CPU per /v1 call at concurrency 1 0.86-0.94 -> 0.76-0.78 ms, /v1 p50 1.82 -> 1.70
    # ms, /v1 at concurrency 8 856-873 -> 939-942 req/s; OPA queried alone at concurrency 8
    # halves (3,100 -> 1,700 decisions/s), still above what one proxy worker asks.
    service_start "$name" healthy 20 -- env GOGC="${SYMPHONY_OPA_GOGC:-400}" \
      GOMAXPROCS="${SYMPHONY_OPA_GOMAXPROCS:-1}" \
      "$root/.tools/bin/opa" run --server --skip-version-check --optimize-store-for-read-speed \
      --log-level=error \
      --addr "$addr" --config-file deploy/opa/config.yaml \
      --set "services.symphony.url=${bundle_url%/}/opa" \
      --set "persistence_directory=${SYMPHONY_OPA_PERSIST_DIR:-$service_run_dir/$name-persist}" \
      --set "labels.sidecar=$name"
    echo "$name up on http://$addr, pulling from ${bundle_url%/}/opa (log: $service_run_dir/$name.log)"
    ;;
  ready)
    for _ in $(seq 1 150); do activated && exit 0; sleep 0.2; done
    echo "error: $name has not activated a bundle from $bundle_url" >&2
    exit 1
    ;;
  stop) service_stop "$name" ;;
  *) echo "usage: $0 start|ready|stop" >&2; exit 2 ;;
esac
