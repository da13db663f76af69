"""Benchmark: operator endpoints under siege.

Starts the stand-in upstream with one model that never answers, the real OPA sidecar and the
proxy as the run command starts it; then holds 1,000 idle connections (half a request line
each), 200 dashboard websockets and 64 calls to the hung model open, and times health, the
kill switch and burndown, each on a fresh connection. Prints p50/p99/max, quiet and besieged.

Run: `python bench/siege.py [--rounds 100]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.conftest import traffic_policy
from tests.support.processes import start_proxy_with_sidecar
from tests.support.siege import besieged, operator_latencies, percentile
from tests.support.upstream import UpstreamServer

IDLE, WEBSOCKETS, HUNG = 1000, 200, 64


def line(label: str, latencies: Sequence[float]) -> str:
    """One row of the table."""
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    return f"{label:10} {len(latencies):>6} {p50:>8.2f} {p99:>8.2f} {max(latencies) * 1000:>8.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure quiet, then besieged; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="rounds over the 3 endpoints")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="symphony-bench-") as tmp,
        UpstreamServer(models=("alpha", "beta", "gamma")) as upstream,
    ):
        work = Path(tmp)
        upstream.slow("alpha", 3600)
        policy = traffic_policy()
        (work / "policy.json").write_text(json.dumps(policy))
        env = {
            "SYMPHONY_POLICY_FILE": str(work / "policy.json"),
            "SYMPHONY_DATA_DIR": str(work / "data"),
            "SYMPHONY_GATEWAY_URL": upstream.url,
            "SYMPHONY_GATEWAY_KEY": "sk-test-key-123456",
            "SYMPHONY_GATEWAY_READ_TIMEOUT_S": "600",
            "SYMPHONY_LOCAL_MODEL_URL": "",
            "SYMPHONY_MAX_CONCURRENT_PER_MODEL": str(HUNG),
            "SYMPHONY_HEADER_TIMEOUT_S": "600",  # the idle connections stay for the whole run
        }
        proxy, opa = start_proxy_with_sidecar(work / "logs", env)
        try:
            operator_latencies(proxy.url, 10)
            quiet = operator_latencies(proxy.url, args.rounds)
            body = {"task": "quiet", "loa": 1, "input": "hello", "max_output_tokens": 8}
            with besieged(proxy.url, IDLE, WEBSOCKETS, HUNG, body) as siege:
                deadline = time.monotonic() + 60
                while len(upstream.requests_for("alpha")) < HUNG and time.monotonic() < deadline:
                    time.sleep(0.2)
                held = len(upstream.requests_for("alpha"))
                loaded = operator_latencies(proxy.url, args.rounds)
                open_sockets = siege.open_websockets()
        finally:
            opa.stop()
            proxy.stop()
    print(
        f"Operator endpoints (health, kill switch, burndown; a fresh connection each), "
        f"besieged by {IDLE} idle connections, {open_sockets} websockets and {held} calls "
        "to a hung upstream"
    )
    print(f"{'':10} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(line("quiet", quiet))
    print(line("besieged", loaded))
    return 0


if __name__ == "__main__":
    sys.exit(main())
