# Shared by the start scripts: run a program in the background under .run/ with a pidfile,
# wait until a probe says it answers, and stop it with its whole process group.
# Source it, then call: service_start NAME PROBE_FN TIMEOUT_S -- COMMAND...,
# service_stop NAME, service_running_pid NAME.

service_run_dir="${service_run_dir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.run}"

# Whether a process runs: a killed one whose parent has not reaped it yet is a zombie, which
# `kill -0` still finds.
service_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [ -n "$state" ] && [ "$state" != "Z" ]
}

service_running_pid() {
  local pidfile="$service_run_dir/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  service_alive "$pid" && echo "$pid"
}

service_stop() {
  local name="$1" pid
  if ! pid="$(service_running_pid "$name")"; then
    rm -f "$service_run_dir/$name.pid"
    echo "$name not running"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    service_alive "$pid" || break
    sleep 0.2
  done
  if service_alive "$pid"; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$service_run_dir/$name.pid"
  echo "$name stopped"
}

service_start() {
  local name="$1" probe="$2" timeout_s="$3"
  shift 4 # NAME PROBE TIMEOUT --
  local log="$service_run_dir/$name.log" pid
  if pid="$(service_running_pid "$name")"; then
    echo "$name already running (pid $pid)"
    return 0
  fi
  mkdir -p "$service_run_dir"
  setsid "$@" >"$log" 2>&1 </dev/null &
  echo $! >"$service_run_dir/$name.pid"
  local deadline=$((SECONDS + timeout_s))
  until "$probe"; do
    if ! service_running_pid "$name" >/dev/null; then
      echo "error: $name exited; last lines of ${log#"$service_run_dir"/../}:" >&2
      tail -n 30 "$log" >&2
      rm -f "$service_run_dir/$name.pid"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: $name not answering after ${timeout_s}s; see $log" >&2
      service_stop "$name" >&2
      return 1
    fi
    sleep 0.2
  done
}
