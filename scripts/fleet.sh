#!/usr/bin/env bash
# up|down for a local fleet, as on three hosts: 3 proxies (gunicorn), each with its own OPA
# sidecar pulling bundles from it, sharing one Redis (counters) and one PostgreSQL (policy
# revisions, run reports, sidecar status, the kill switch). Ports (override by env):
#   proxies  FLEET_PROXY_PORTS="8801 8802 8803"   (a, b, c)
#   sidecars FLEET_OPA_PORTS="8191 8192 8193"     (fleet-opa-a, -b, -c)
#   Redis    FLEET_REDIS_PORT=6389
#   Postgres FLEET_PG_PORT=5439 (database symphony, user symphony, trust on 127.0.0.1)
# State lives in FLEET_DIR (default .run/fleet): logs (JSON lines through the log sink, see
# docs/logs.md), pidfiles, sidecar bundle caches, and the fleet's keys, made on the first `up`
# (mode 0600): admin.key (SYMPHONY_ADMIN_KEY of every proxy) and sidecar.key
# (SYMPHONY_SIDECAR_KEY of every proxy and sidecar). PostgreSQL's cluster is in FLEET_PG_DIR
# (default /tmp/symphony-fleet-pg-$FLEET_PG_PORT, a path the postgres user can reach:
# PostgreSQL refuses to run as root), its log in server.log there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export service_run_dir="${FLEET_DIR:-$root/.run/fleet}"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
read -r -a proxy_ports <<<"${FLEET_PROXY_PORTS:-8801 8802 8803}"
read -r -a opa_ports <<<"${FLEET_OPA_PORTS:-8191 8192 8193}"
redis_port="${FLEET_REDIS_PORT:-6389}"
pg_port="${FLEET_PG_PORT:-5439}"
pg_dir="${FLEET_PG_DIR:-/tmp/symphony-fleet-pg-$pg_port}"
names=(a b c)
database_url="postgresql://symphony@127.0.0.1:$pg_port/symphony"

pg_bin() {
  local found
  found="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [ -d "$found" ] || { echo "error: PostgreSQL is not installed; run: bash scripts/bootstrap.sh setup" >&2; exit 1; }
  echo "$found"
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_up() {
  local bin
  bin="$(pg_bin)"
  if [ ! -f "$pg_dir/PG_VERSION" ]; then
    mkdir -p "$pg_dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_dir"
    chmod 700 "$pg_dir"
    as_postgres "$bin/initdb" -D "$pg_dir" -A trust -U symphony --encoding UTF8 >/dev/null
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$pg_dir" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$pg_dir" -l "$pg_dir/server.log" -w -t 30 \
      -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  .venv/bin/python - "$pg_port" <<'PY'
import sys, psycopg
with psycopg.connect(f"postgresql://symphony@127.0.0.1:{sys.argv[1]}/postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'symphony'").fetchone():
        conn.execute("CREATE DATABASE symphony")
PY
  echo "postgres up on 127.0.0.1:$pg_port ($pg_dir)"
}

pg_down() {
  local bin
  bin="$(pg_bin)"
  if [ -f "$pg_dir/PG_VERSION" ]; then
    as_postgres "$bin/pg_ctl" -D "$pg_dir" -m fast -w stop >/dev/null 2>&1 || true
    echo "postgres stopped"
  fi
}

redis_answers() { redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; }

# The fleet's key NAME (admin, sidecar), made once: sym_ and 43 URL-safe characters.
fleet_key() {
  local file="$service_run_dir/$1.key"
  if [ ! -s "$file" ]; then
    (
      umask 077
      .venv/bin/python -c 'import secrets; print("sym_" + secrets.token_urlsafe(32))' >"$file.new"
      mv "$file.new" "$file"
    )
  fi
  cat "$file"
}

up() {
  mkdir -p "$service_run_dir"
  local admin_key sidecar_key
  admin_key="$(fleet_key admin)"
  sidecar_key="$(fleet_key sidecar)"
  pg_up
  service_start fleet-redis redis_answers 10 -- redis-server --port "$redis_port" \
    --bind 127.0.0.1 --save "" --appendonly no
  for i in 0 1 2; do
    local name="${names[$i]}" port="${proxy_ports[$i]}" opa="${opa_ports[$i]}"
    # Any HTTP answer will do: health is 503 until the sidecar, started next, has the bundle.
    proxy_answers() {
      curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$port/status/health.json" 2>/dev/null
    }
    SYMPHONY_ADMIN_KEY="$admin_key" SYMPHONY_SIDECAR_KEY="$sidecar_key" \
      SYMPHONY_DATABASE_URL="$database_url" \
      SYMPHONY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
      SYMPHONY_OPA_URL="http://127.0.0.1:$opa" \
      SYMPHONY_DATA_DIR="$service_run_dir/proxy-$name" \
      SYMPHONY_BIND="127.0.0.1:$port" \
      service_start "fleet-proxy-$name" proxy_answers 60 -- .venv/bin/symphony serve \
      --bind "127.0.0.1:$port"
    SYMPHONY_SIDECAR_KEY="$sidecar_key" \
      SYMPHONY_OPA_NAME="fleet-opa-$name" SYMPHONY_OPA_ADDR="127.0.0.1:$opa" \
      SYMPHONY_BUNDLE_URL="http://127.0.0.1:$port" bash deploy/opa/start.sh start
  done
  for i in 0 1 2; do
    SYMPHONY_OPA_NAME="fleet-opa-${names[$i]}" SYMPHONY_OPA_ADDR="127.0.0.1:${opa_ports[$i]}" \
      SYMPHONY_BUNDLE_URL="http://127.0.0.1:${proxy_ports[$i]}" bash deploy/opa/start.sh ready
  done
  cat <<MSG

Symphony fleet is up (store: $database_url, counters: redis://127.0.0.1:$redis_port):
  proxy a  http://127.0.0.1:${proxy_ports[0]}   sidecar fleet-opa-a  http://127.0.0.1:${opa_ports[0]}
  proxy b  http://127.0.0.1:${proxy_ports[1]}   sidecar fleet-opa-b  http://127.0.0.1:${opa_ports[1]}
  proxy c  http://127.0.0.1:${proxy_ports[2]}   sidecar fleet-opa-c  http://127.0.0.1:${opa_ports[2]}
  admin key  $service_run_dir/admin.key   (curl -H "Authorization: Bearer \$(cat $service_run_dir/admin.key)" ...)
  logs     $service_run_dir/*.log          stop with: .venv/bin/just fleet-down
MSG
}

down() {
  for name in "${names[@]}"; do
    SYMPHONY_OPA_NAME="fleet-opa-$name" bash deploy/opa/start.sh stop
    service_stop "fleet-proxy-$name"
  done
  service_stop fleet-redis
  pg_down
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
