"""Benchmark: the Rego decision alone, in process (`opa bench`) and on OPA's server-side timer.

Starts the proxy on the example policy and takes the bundle it serves its sidecars (the
router's Rego, the document at data.symphony.policy, the manifest with the revision). Then:

1. `opa bench` in process, p50 of `data.symphony.router.decision` for four inputs built by
   the proxy's own input builder: an allowed qa request, a kill-switch denial, a governance
   denial (no rule matches) and an all-capacity denial (every candidate at its rpm cap);
2. OPA sidecars started as deploy/opa/start.sh starts them (config, bundle pulled from the
   proxy, REST lock-down, decision-log mask), one per OPA setting compared, each sent a few
   hundred queries per input as the proxy sends them (`?metrics=true`, and with
   `explain=notes` for the allowed input): p50/p99 of `timer_rego_query_eval_ns`.

Run: `python bench/rego.py [--queries N]`.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.counters import ModelUsage
from app.core.policy_input import build_input
from app.core.route_request import RouteRequest
from tests.support.keys import SIDECAR_KEY
from tests.support.processes import ROOT, Service, free_port, spawn, start_proxy, tool

DECISION = "/v1/data/symphony/router/decision"
# Friday 2025-08-29 10:00 in Europe/Berlin: every usage window of the example is open.
NOW = 1756454400.0
# The sidecar settings compared: (label, extra `opa run` flags, GOGC). The last row is what
# deploy/opa/start.sh runs.
SETTINGS: list[tuple[str, list[str], str]] = [
    ("default store, GOGC=100", [], "100"),
    ("default store, GOGC=400", [], "400"),
    ("read-optimized store, GOGC=100", ["--optimize-store-for-read-speed"], "100"),
    ("read-optimized store, GOGC=400 (start.sh)", ["--optimize-store-for-read-speed"], "400"),
]


def inputs(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The four decision inputs, as the proxy builds them (no temperature, default limits)."""
    names = [m["name"] for m in policy["models"]]
    busy = {name: ModelUsage(rpm=3, tpm=2000, usd_today=0.5) for name in names}
    full = {name: ModelUsage(rpm=1000, tpm=2000, usd_today=0.5) for name in names}
    client = {"name": "bench", "roles": ["client"], "team": None}

    def made(loa: int, usage: dict[str, ModelUsage], kill_switch: bool) -> dict[str, Any]:
        request = RouteRequest(task="qa", loa=loa, est_tokens=800, client=client)
        return build_input(request, usage, frozenset(), NOW, kill_switch)

    return {
        "allowed (qa)": made(1, busy, False),
        "kill switch": made(2, busy, True),
        "governance (no rule)": made(3, busy, False),
        "capacity (all at rpm cap)": made(1, full, False),
    }


def fetch_bundle(proxy: Service, into: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Unpack the proxy's bundle: (Rego directory, data file as OPA stores it, document)."""
    response = requests.get(
        f"{proxy.url}/opa/bundles/symphony.tar.gz",
        headers={"Authorization": f"Bearer {SIDECAR_KEY}"},
        timeout=10,
    )
    response.raise_for_status()
    rego = into / "rego"
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(response.content))) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member)
            if extracted is not None:
                files[member.name.lstrip("/")] = extracted.read()
    for name, content in files.items():
        if name.endswith(".rego"):
            target = rego / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    document = json.loads(files["symphony/policy/data.json"])
    manifest = json.loads(files[".manifest"])
    data = into / "data.json"
    stored = {
        "symphony": {"policy": document},
        "system": {"bundles": {"symphony": {"manifest": manifest}}},
    }
    data.write_text(json.dumps(stored))
    return rego, data, document


def opa_bench(rego: Path, data: Path, opa_input: dict[str, Any], work: Path) -> float:
    """p50 (µs) of the decision's eval timer under `opa bench`, best of three runs."""
    path = work / "input.json"
    path.write_text(json.dumps(opa_input))
    best = float("inf")
    for _ in range(3):
        out = subprocess.run(
            [
                tool("opa"),
                "bench",
                "--optimize-store-for-read-speed",
                "--format",
                "json",
                "-d",
                str(rego),
                "-d",
                str(data),
                "-i",
                str(path),
                "data.symphony.router.decision",
            ],
            check=True,
            capture_output=True,
            env={"GOGC": "400", "PATH": "/usr/bin:/bin"},
        )
        extra = json.loads(out.stdout)["Extra"]
        best = min(best, extra["histogram_timer_rego_query_eval_ns_median"] / 1000)
    return best


def start_sidecar(proxy: Service, logs: Path, flags: list[str], gogc: str) -> Service:
    """An OPA sidecar as deploy/opa/start.sh runs it, with `flags` and GOGC."""
    port = free_port()
    service = spawn(
        "opa",
        [
            tool("opa"),
            "run",
            "--server",
            "--skip-version-check",
            "--log-level=error",
            "--addr",
            f"127.0.0.1:{port}",
            "--config-file",
            str(ROOT / "deploy" / "opa" / "config.yaml"),
            "--set",
            f"services.symphony.url={proxy.url}/opa",
            "--set",
            f"persistence_directory={logs / f'opa-{port}-persist'}",
            "--set",
            "labels.sidecar=bench",
            *flags,
        ],
        port,
        logs,
        env={"GOGC": gogc, "GOMAXPROCS": "1", "SYMPHONY_SIDECAR_KEY": SIDECAR_KEY},
    )
    return service.ready("/health?bundles", timeout_s=30)


def server_timer(opa: Service, opa_input: dict[str, Any], queries: int, notes: bool) -> list[float]:
    """OPA's timer_rego_query_eval_ns (µs) for `queries` decisions on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", opa.port, timeout=10)
    path = f"{DECISION}?metrics=true" + ("&explain=notes&pretty=true" if notes else "")
    payload = json.dumps({"input": opa_input}).encode()
    timings: list[float] = []
    try:
        for n in range(queries + 50):
            connection.request("POST", path, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            body = json.loads(response.read())
            if response.status != 200 or "result" not in body:
                raise RuntimeError(f"OPA answered {response.status}: {str(body)[:200]}")
            if n >= 50:  # the first 50 warm up
                timings.append(body["metrics"]["timer_rego_query_eval_ns"] / 1000)
    finally:
        connection.close()
    return timings


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0-1) of `values`."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main() -> None:
    """Start the proxy and sidecars, measure, print two tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=400, help="server queries per input")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="symphony-bench-rego-"))
    env = {
        "SYMPHONY_DATA_DIR": str(work / "data"),
        "SYMPHONY_POLICY_FILE": str(ROOT / "policy" / "examples" / "default.json"),
        "SYMPHONY_BACKGROUND_JOBS": "false",
        "SYMPHONY_OPA_URL": f"http://127.0.0.1:{free_port()}",
    }
    proxy = start_proxy(work / "logs", env)
    try:
        rego, data, document = fetch_bundle(proxy, work)
        cases = inputs(document)
        print("data.symphony.router.decision, example policy, the proxy's bundle")
        print("\nin process: opa bench --optimize-store-for-read-speed, GOGC=400 (best p50 of 3)")
        print(f"{'input':<28} {'p50 µs':>8}")
        for label, opa_input in cases.items():
            print(f"{label:<28} {opa_bench(rego, data, opa_input, work):>8.1f}", flush=True)
        print(f"\nserver side: timer_rego_query_eval_ns, {args.queries} queries per input")
        print(f"{'sidecar setting':<42} {'input':<28} {'p50 µs':>8} {'p99 µs':>8}")
        for label, flags, gogc in SETTINGS:
            opa = start_sidecar(proxy, work / "logs", flags, gogc)
            try:
                rows = [(name, opa_input, False) for name, opa_input in cases.items()]
                rows.append(("allowed, explain=notes", cases["allowed (qa)"], True))
                for name, opa_input, notes in rows:
                    timings = server_timer(opa, opa_input, args.queries, notes)
                    print(
                        f"{label:<42} {name:<28} {quantile(timings, 0.5):>8.1f} "
                        f"{quantile(timings, 0.99):>8.1f}",
                        flush=True,
                    )
            finally:
                opa.stop()
                time.sleep(0.2)
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
