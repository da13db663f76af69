# shellcheck shell=bash
# Shared by the start scripts: run a program in the background with a pidfile in the run
# directory (.run/, or $SYMPHONY_RUN_DIR), its output appended to <run dir>/<NAME>.log through
# the log sink (app/logsink.py: every line JSON and capped, the file rotated and kept by size
# and age, never truncated; see docs/logs.md), wait until a probe says it answers, and stop
# it with its whole process group.
# Source it, then call: service_start NAME PROBE_FN TIMEOUT_S -- COMMAND...,
# service_stop NAME, service_running_pid NAME.

service_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
service_run_dir="${service_run_dir:-${SYMPHONY_RUN_DIR:-$service_root/.run}}"
# The sink uses the standard library only: any Python 3.11 will do.
service_python="${SYMPHONY_PYTHON:-$service_root/.venv/bin/python}"

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

# Wait up to 2 s for a log sink to end (it does once everything writing to it has).
service_sink_gone() {
  for _ in $(seq 1 20); do
    service_alive "$1" && grep -q logsink "/proc/$1/cmdline" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# Let the sink of NAME write its last lines and end; forget its pid.
service_drain_sink() {
  local pidfile="$service_run_dir/$1.sink.pid"
  [ -f "$pidfile" ] || return 0
  service_sink_gone "$(cat "$pidfile")" || echo "warning: the log sink of $1 is still running" >&2
  rm -f "$pidfile"
}

service_stop() {
  local name="$1" pid
  if ! pid="$(service_running_pid "$name")"; then
    rm -f "$service_run_dir/$name.pid"
    service_drain_sink "$name"
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
  service_drain_sink "$name"
  echo "$name stopped"
}

service_start() {
  local name="$1" probe="$2" timeout_s="$3"
  shift 4 # NAME PROBE TIMEOUT --
  local log="$service_run_dir/$name.log" pid sink
  if pid="$(service_running_pid "$name")"; then
    echo "$name already running (pid $pid)"
    return 0
  fi
  if [ ! -x "$service_python" ]; then
    echo "error: $service_python not found (run \`just setup\` or set SYMPHONY_PYTHON)" >&2
    return 1
  fi
  mkdir -p "$service_run_dir"
  # The sink gets its own session, so a Ctrl-C here cannot end it while the service lives on
  # (a service whose output pipe closes dies of SIGPIPE), and nothing of the caller's: its
  # own errors go to logsink.err. It ends when every process writing to it has. `$!` after
  # the process substitution is the sink; after `&`, the service.
  exec {sink}> >(exec setsid "$service_python" -I "$service_root/app/logsink.py" "$log" \
    >/dev/null 2>>"$service_run_dir/logsink.err")
  echo $! >"$service_run_dir/$name.sink.pid"
  setsid "$@" >&"$sink" 2>&1 </dev/null {sink}>&- &
  echo $! >"$service_run_dir/$name.pid"
  exec {sink}>&-
  local deadline=$((SECONDS + timeout_s))
  until "$probe"; do
    if ! service_running_pid "$name" >/dev/null; then
      service_drain_sink "$name"
      echo "error: $name exited; last lines of $log:" >&2
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
