"""Benchmark: /route/plan latency (p50/p99) and decisions per second at concurrency 8.

Starts the real OPA sidecar and the proxy under gunicorn (one worker, threads: the production
setup) on loopback, warms up, then sends a bounded number of plans from 8 threads, each with
its own keep-alive session. Run: `python bench/plan.py [--requests N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.keys import bearer
from tests.support.processes import ROOT, start_proxy_with_sidecar

BODY = {"task": "qa", "loa": 1, "est_tokens": 800}


def run(url: str, total: int, concurrency: int) -> tuple[list[float], float]:
    """Send `total` plans from `concurrency` threads; latencies (s) and wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = total // concurrency

    def worker() -> None:
        session = requests.Session()
        session.headers.update(bearer())
        mine: list[float] = []
        for _ in range(per_thread):
            started = time.perf_counter()
            response = session.post(url, json=BODY, timeout=10)
            mine.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0-1) in milliseconds."""
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] * 1000


def main() -> None:
    """Start the stack, benchmark each explain mode, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="symphony-bench-"))
    env = {
        "SYMPHONY_DATA_DIR": str(work / "data"),
        "SYMPHONY_POLICY_FILE": str(ROOT / "policy" / "examples" / "default.json"),
        "SYMPHONY_BACKGROUND_JOBS": "false",
    }
    proxy, opa = start_proxy_with_sidecar(work / "logs", env)
    try:
        print(
            f"/route/plan, {args.requests} requests, concurrency {args.concurrency}, "
            "gunicorn 1 worker x threads, real OPA, loopback"
        )
        print(f"{'explain':<8} {'p50 ms':>8} {'p99 ms':>8} {'decisions/s':>12}")
        for mode in ("off", "notes"):
            url = f"{proxy.url}/route/plan?explain={mode}"
            run(url, 200, args.concurrency)  # warm-up
            latencies, wall = run(url, args.requests, args.concurrency)
            print(
                f"{mode:<8} {quantile(latencies, 0.50):>8.2f} {quantile(latencies, 0.99):>8.2f} "
                f"{len(latencies) / wall:>12.0f}"
            )
    finally:
        opa.stop()
        proxy.stop()


if __name__ == "__main__":
    main()
