#!/usr/bin/env bash
# Installs the Debian packages a set of tasks needs, when any is missing. Sets (any number;
# none means all):
#   run    build tools for llama.cpp (cmake, g++), curl and jq: what `run` needs
#   fleet  Redis and PostgreSQL (shared counters and store of `fleet-up`)
#   ops    Prometheus with promtool, Alertmanager with amtool (`symphony-slos`, the alert
#          tests, the incident loop)
#   test   everything above, plus Chromium and chromium-driver for the browser tests, wrk
#          for the benchmarks and openssl for a test certificate
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/phase.sh
source "$root/scripts/lib/phase.sh"

sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(test)
want_run="" want_fleet="" want_ops="" want_browser=""
for set in "${sets[@]}"; do
  case "$set" in
    run) want_run=1 ;;
    fleet) want_fleet=1 ;;
    ops) want_ops=1 ;;
    test) want_run=1 want_fleet=1 want_ops=1 want_browser=1 ;;
    *) echo "usage: $0 [run|fleet|ops|test]..." >&2; exit 2 ;;
  esac
done

need=()
if [ -n "$want_run" ]; then
  command -v cmake >/dev/null 2>&1 || need+=(cmake)
  command -v g++ >/dev/null 2>&1 || need+=(g++)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v jq >/dev/null 2>&1 || need+=(jq)
fi
if [ -n "$want_fleet" ]; then
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
fi
if [ -n "$want_ops" ]; then
  { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
  { command -v prometheus-alertmanager && command -v amtool; } >/dev/null 2>&1 \
    || need+=(prometheus-alertmanager)
fi
if [ -n "$want_browser" ]; then
  # wrk: the load generator of the benchmarks (bench/hotpath.py, bench/memory.py).
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
  # openssl: the self-signed certificate of the TLS client test (tests/unit/test_http1.py).
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present (${sets[*]})"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: need root (or sudo) to apt-get install ${need[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
phase "apt-get update" $sudo apt-get update -q
phase "apt-get install ${need[*]}" $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
