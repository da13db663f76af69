"""Game-day drill: provider 429s, then a budget near exhaustion, against a local stand-in.

Starts its own OPA sidecar, a stand-in OpenAI-compatible upstream and a proxy (gunicorn) on
free loopback ports, listens on the websocket, and prints what the router did: attempts and
fallbacks, denials with their reason codes, alerts, and the budget burndown. Leaves nothing
running. Run: `just symphony-drill` (or `python scripts/drill.py`).
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import simple_websocket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.keys import bearer
from tests.support.processes import start_proxy_with_sidecar
from tests.support.stack import proxy_env
from tests.support.upstream import UpstreamServer

POLICY: dict[str, Any] = {
    "version": "drill",
    "timezone": "UTC",
    "cooldown": {"failures": 3, "seconds": 30},
    "models": [
        {
            "name": "hosted/primary",
            "provider": "standin",
            "class": "hosted",
            "upstream_model": "primary",
            "context_tokens": 32000,
            "rpm_cap": 600,
            "tpm_cap": 10_000_000,
            "daily_usd_cap": 50.0,
            "price": {"input_per_1k": 0.5, "output_per_1k": 0.5},
        },
        {
            "name": "hosted/premium",
            "provider": "standin",
            "class": "hosted",
            "upstream_model": "premium",
            "context_tokens": 32000,
            "rpm_cap": 600,
            "tpm_cap": 10_000_000,
            "daily_usd_cap": 1.0,
            "price": {"input_per_1k": 0.5, "output_per_1k": 0.5},
        },
        {
            "name": "hosted/secondary",
            "provider": "standin",
            "class": "hosted",
            "upstream_model": "secondary",
            "context_tokens": 32000,
            "rpm_cap": 600,
            "tpm_cap": 10_000_000,
            "daily_usd_cap": 100.0,
            "price": {"input_per_1k": 0.1, "output_per_1k": 0.2},
        },
    ],
    "rules": [
        {
            "id": "qa",
            "match": {"task": "qa"},
            "route": {"prefer": ["hosted/primary"], "fallback": ["hosted/secondary"]},
        },
        {"id": "premium", "match": {"task": "premium"}, "route": {"prefer": ["hosted/premium"]}},
    ],
}


def listen(url: str, alerts: list[dict[str, Any]], stop: threading.Event) -> None:
    """Collect `alert` messages from the websocket until `stop` is set."""
    ws = simple_websocket.Client.connect(url, headers=bearer())
    try:
        while not stop.is_set():
            raw = ws.receive(timeout=0.2)
            if raw:
                message = json.loads(raw)
                if message.get("type") == "alert":
                    alerts.append(message)
    finally:
        ws.close()


def execute(base: str, task: str) -> tuple[int, dict[str, Any]]:
    """One non-streaming execution."""
    response = requests.post(
        f"{base}/route/execute",
        json={"task": task, "loa": 1, "input": "drill " * 40, "max_output_tokens": 64},
        headers=bearer(),
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


def main() -> None:
    """Run both phases and print the report."""
    work = Path(tempfile.mkdtemp(prefix="symphony-drill-"))
    (work / "policy.json").write_text(json.dumps(POLICY))
    upstream = UpstreamServer(models=("primary", "secondary", "premium")).start()
    env = proxy_env("", work / "data", work / "policy.json", upstream.url)
    proxy, opa = start_proxy_with_sidecar(work / "logs", env)
    alerts: list[dict[str, Any]] = []
    stop = threading.Event()
    listener = threading.Thread(
        target=listen, args=(proxy.url.replace("http", "ws", 1) + "/events", alerts, stop)
    )
    listener.start()
    try:
        print("== phase 1: hosted/primary answers 429 ==")
        upstream.fail("primary", 429)
        served: Counter[str] = Counter()
        tried: Counter[str] = Counter()
        for _ in range(10):
            status, body = execute(proxy.url, "qa")
            served[f"{status} {body.get('model')}"] += 1
            for attempt in body.get("attempts", []):
                tried[f"{attempt['model']} {attempt['outcome']}"] += 1
        print("  answers:  ", dict(served))
        print("  attempts: ", dict(tried))
        plan = requests.post(
            f"{proxy.url}/route/plan", json={"task": "qa", "loa": 1}, headers=bearer(), timeout=10
        )
        reasons = [f"{r['model']}: {r['reason']}" for r in plan.json()["decision"]["reasons"]]
        print("  next decision:", "; ".join(reasons))
        upstream.restore("primary")

        print("== phase 2: the budget of hosted/premium runs out ==")
        time.sleep(0.1)
        statuses: Counter[str] = Counter()
        for _ in range(30):
            status, body = execute(proxy.url, "premium")
            statuses[f"{status} {body.get('error') or body.get('model')}"] += 1
        print("  answers:  ", dict(statuses))
        burn = requests.get(
            f"{proxy.url}/status/burndown.json", headers=bearer(), timeout=10
        ).json()
        for row in burn["models"]:
            print(
                f"  {row['model']:<18} spent ${row['usd_today']:.4f} of "
                f"${row['daily_usd_cap']} ({row['fraction']:.0%}), runway {row['runway_seconds']} s"
            )
        time.sleep(1.5)  # one more model_stats tick for the budget alerts
    finally:
        stop.set()
        listener.join(timeout=5)
        opa.stop()
        proxy.stop()
        upstream.stop()
    print("== alerts seen on the websocket ==")
    for alert in alerts:
        where = alert.get("model") or ""
        print(f"  [{alert['severity']}] {alert['name']} {where}: {alert['message']}")
    metrics_hint = "symphony_gateway_attempts_total, symphony_route_fallbacks_total"
    print(f"(the same events are counted in {metrics_hint} and symphony_route_decisions_total)")


if __name__ == "__main__":
    main()
