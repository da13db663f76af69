# shellcheck shell=bash
# Shared by the setup steps: run a long step as a named phase. It prints a line when the step
# starts, a line every ${SYMPHONY_PHASE_TICK_S:-30} s while it runs (a Go or llama.cpp build
# is silent for minutes otherwise) and a line with the elapsed seconds when it ends.
# Source it, then call: phase "NAME" COMMAND... (returns the command's status).

phase_now() { date +%s; }

phase() {
  local name="$1" started rc=0 ticker
  shift
  started="$(phase_now)"
  echo "==> $name"
  # One-second sleeps, their output not on ours: once the ticker is killed nothing is left
  # holding the terminal or a pipe (`... | tee` would otherwise wait for a stray sleep).
  (
    tick="${SYMPHONY_PHASE_TICK_S:-30}"
    waited=0
    while sleep 1 >/dev/null 2>&1; do
      waited=$((waited + 1))
      if [ $((waited % tick)) -eq 0 ]; then
        echo "    ... $name: $(($(phase_now) - started)) s"
      fi
    done
  ) &
  ticker=$!
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then
    echo "<== $name: done in $(($(phase_now) - started)) s"
  else
    echo "<== $name: failed (exit $rc) after $(($(phase_now) - started)) s" >&2
  fi
  return "$rc"
}
