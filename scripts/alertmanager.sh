#!/usr/bin/env bash
# start|stop for Alertmanager (Debian package prometheus-alertmanager) on
# ${ALERTMANAGER_ADDR:-127.0.0.1:9093}, with deploy/alertmanager/alertmanager.yml rendered into
# .run/alertmanager.yml: the webhook goes to the proxy on ${SYMPHONY_BIND:-127.0.0.1:8787} and
# presents the proxy's `alertmanager` key (SYMPHONY_ALERTMANAGER_KEY, else the key file the
# proxy wrote at its first start, <data>/alertmanager.key). Clustering is off (one instance).
# Data in .run/alertmanager, log in .run/alertmanager.log (through the log sink; docs/logs.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
addr="${ALERTMANAGER_ADDR:-127.0.0.1:9093}"
bind="${SYMPHONY_BIND:-127.0.0.1:8787}"
data_dir="${SYMPHONY_DATA_DIR:-$root/.data}"
config="$service_run_dir/alertmanager.yml"

ready() { curl -fsS "http://$addr/-/ready" >/dev/null 2>&1; }

render() {
  local key_file="$data_dir/alertmanager.key"
  mkdir -p "$service_run_dir"
  if [ -n "${SYMPHONY_ALERTMANAGER_KEY:-}" ]; then
    key_file="$service_run_dir/alertmanager.key"
    (umask 077 && printf '%s\n' "$SYMPHONY_ALERTMANAGER_KEY" >"$key_file")
  fi
  if [ ! -f "$key_file" ]; then
    echo "error: no key for Alertmanager: start the proxy first (it writes $key_file)" >&2
    echo "       or set SYMPHONY_ALERTMANAGER_KEY" >&2
    return 1
  fi
  sed -e "s#http://127.0.0.1:8787/alerts/alertmanager#http://$bind/alerts/alertmanager#" \
    -e "s#credentials_file: .*#credentials_file: $key_file#" \
    deploy/alertmanager/alertmanager.yml >"$config"
  amtool check-config "$config" >/dev/null
}

case "${1:-start}" in
  start)
    render
    service_start alertmanager ready 30 -- prometheus-alertmanager --config.file="$config" \
      --storage.path="$service_run_dir/alertmanager" --web.listen-address="$addr" \
      --cluster.listen-address=
    echo "alertmanager up on http://$addr (log: $service_run_dir/alertmanager.log)"
    ;;
  stop) service_stop alertmanager ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
