"""Benchmark: what-if simulation throughput, and how fast decision records are written.

Starts the real OPA sidecar and the proxy under gunicorn, records N decisions through
`/route/plan` (varied tasks, LoA and risk), waits for the batched writer, then times
`POST /policy/simulate` over all of them with a candidate that closes a model's window.
Run: `python bench/simulate.py [--decisions N]`.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.keys import bearer
from tests.support.processes import ROOT, start_proxy_with_sidecar

BODIES = [
    {"task": task, "loa": loa, "risk": risk, "est_tokens": tokens}
    for task, loa, risk, tokens in itertools.product(
        ("qa", "summarize", "code", "chat"), (0, 1, 2), ("low", "high"), (200, 4000)
    )
]


def record(url: str, total: int, threads: int = 8) -> float:
    """Send `total` plans from `threads` threads; the wall time in seconds."""
    per_thread = total // threads

    def worker(offset: int) -> None:
        session = requests.Session()
        session.headers.update(bearer())
        for i in range(per_thread):
            body = BODIES[(offset + i) % len(BODIES)]
            response = session.post(f"{url}/route/plan?explain=off", json=body, timeout=30)
            response.raise_for_status()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return time.perf_counter() - started


def closed_gemini(document: dict[str, Any]) -> dict[str, Any]:
    """The document with gemini's window open one minute a week (closed for the records)."""
    changed = copy.deepcopy(document)
    for model in changed["models"]:
        if model["name"] == "hosted/gemini-1.5-pro":
            model["usage_windows"] = [{"start": "03:00", "end": "03:01", "days": [0]}]
    return changed


def main() -> None:
    """Record, then simulate, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="symphony-bench-"))
    env = {
        "SYMPHONY_DATA_DIR": str(work / "data"),
        "SYMPHONY_POLICY_FILE": str(ROOT / "policy" / "examples" / "default.json"),
        "SYMPHONY_BACKGROUND_JOBS": "false",
    }
    proxy, opa = start_proxy_with_sidecar(work / "logs", env)
    try:
        session = requests.Session()
        session.headers.update(bearer())
        wall = record(proxy.url, args.decisions)
        print(
            f"recorded {args.decisions} decisions in {wall:.1f} s ({args.decisions / wall:.0f}/s)"
        )
        time.sleep(1.5)  # the batched writer's window
        document = session.get(f"{proxy.url}/policy", timeout=30).json()["document"]
        started = time.perf_counter()
        response = session.post(
            f"{proxy.url}/policy/simulate",
            json={"document": closed_gemini(document), "limit": args.decisions},
            timeout=300,
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        result = response.json()
        print(
            f"simulated {result['total']} decisions in {elapsed:.1f} s "
            f"(server {result['elapsed_s']:.1f} s, {result['total'] / elapsed:.0f} decisions/s): "
            f"{result['changed_model']} change model, {result['became_denied']} become denied, "
            f"{result['usd_per_day_change']:+.2f} $/day"
        )
    finally:
        opa.stop()
        proxy.stop()


if __name__ == "__main__":
    main()
