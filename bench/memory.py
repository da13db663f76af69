"""Benchmark: cold start, and whether the proxy's memory plateaus.

Cold start: the time from starting the proxy (`symphony serve`) and its OPA sidecar to the
first answered `/route/plan`, with a store that already exists (a restart) and with an empty
one (a first start, migrations included).

Memory: after a warm-up, N mixed requests (plans with and without explanation, executions
through the OpenAI door and `/route/execute`, health, the kill switch, metrics; sent by wrk)
while the worker's resident set size is read from /proc; the growth over the run and the size
at the end are printed.

Run: `python bench/memory.py [--requests 20000]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.overhead import MAX_TOKENS, PROMPT, bench_env, start_upstream
from tests.support.keys import ADMIN_KEY, bearer
from tests.support.processes import Service, start_proxy_with_sidecar

MIX = [
    ("POST", "/route/plan?explain=off", {"task": "qa", "loa": 1}),
    ("POST", "/route/plan", {"task": "qa", "loa": 1, "input": PROMPT}),
    ("POST", "/route/execute", {"task": "qa", "loa": 1, "input": PROMPT, "stream": False}),
    (
        "POST",
        "/v1/chat/completions",
        {
            "model": "auto",
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": MAX_TOKENS,
            "metadata": {"symphony_task": "qa"},
        },
    ),
    ("GET", "/status/health.json", None),
    ("GET", "/controls/kill-switch", None),
    ("GET", "/metrics", None),
]


def wrk_script() -> str:
    """A wrk Lua script cycling through MIX."""
    entries = []
    for method, path, body in MIX:
        payload = json.dumps(json.dumps(body)) if body is not None else "nil"
        entries.append(f"{{{json.dumps(method)}, {json.dumps(path)}, {payload}}}")
    return (
        "local mix = {" + ", ".join(entries) + "}\n"
        "local i = 0\n"
        f'wrk.headers["Authorization"] = "Bearer {ADMIN_KEY}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  i = i % #mix + 1\n"
        "  local m = mix[i]\n"
        "  return wrk.format(m[1], m[2], nil, m[3])\n"
        "end\n"
    )


def worker_pid(proxy: Service) -> int:
    """The gunicorn worker's pid (the master's only child)."""
    out = subprocess.run(
        ["pgrep", "-P", str(proxy.proc.pid)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0])


def rss_mb(pid: int) -> float:
    """Resident set size of `pid`, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _count(out: str) -> int:
    return int(next(line for line in out.splitlines() if "requests in" in line).split()[0])


def send(url: str, total: int, script: Path) -> tuple[float, int]:
    """About `total` requests from wrk at concurrency 8: (seconds, requests sent)."""
    # Calibrate: wrk runs for a duration, so estimate the rate with a short run first.
    started = time.perf_counter()
    probe = subprocess.run(
        ["wrk", "-t2", "-c8", "-d2s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = _count(probe)
    remaining = max(0, total - done)
    seconds = max(1, round(remaining / max(1, done / 2)))
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    return time.perf_counter() - started, done + _count(out)


def cold_start(work: Path, env: dict[str, str]) -> float:
    """Seconds from starting proxy + OPA to the first answered plan."""
    started = time.perf_counter()
    proxy, opa = start_proxy_with_sidecar(work / "logs", env)
    try:
        while True:
            response = requests.post(
                f"{proxy.url}/route/plan?explain=off",
                json={"task": "qa", "loa": 1},
                headers=bearer(),
                timeout=5,
            )
            if response.status_code == 200:
                return time.perf_counter() - started
            time.sleep(0.01)
    finally:
        opa.stop()
        proxy.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Cold starts, then the memory run; prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=3_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="symphony-bench-") as tmp:
        work = Path(tmp)
        upstream = start_upstream(work / "logs")
        try:
            env = {**bench_env(upstream.url, work), "SYMPHONY_MAX_CONCURRENT_PER_MODEL": "64"}
            first = cold_start(work, env)
            again = cold_start(work, env)
            print(
                f"cold start, proxy + OPA to the first plan: first {first:.2f} s, "
                f"restart {again:.2f} s"
            )
            script = work / "mix.lua"
            script.write_text(wrk_script())
            proxy, opa = start_proxy_with_sidecar(work / "logs", env)
            try:
                pid = worker_pid(proxy)
                send(proxy.url, args.warmup, script)
                before = rss_mb(pid)
                seconds, sent = send(proxy.url, args.requests, script)
                after = rss_mb(pid)
            finally:
                opa.stop()
                proxy.stop()
        finally:
            upstream.stop()
    print(
        f"worker RSS after a {args.warmup}-request warm-up: {before:.1f} MB; after "
        f"{sent} more mixed requests ({seconds:.0f} s): {after:.1f} MB "
        f"(growth {after - before:+.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
