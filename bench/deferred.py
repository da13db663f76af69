"""Deferred jobs: the delay between a usage window opening and each queued job starting.

Starts a proxy as production runs it (`symphony serve`, its scheduler, its OPA sidecar) on a
stand-in upstream, with a policy whose model opens at the next whole minute (UTC); queues
--jobs jobs for that opening, then prints the delay from the opening to each job's start
(p50, p95, max) and to its end. The model's rpm_cap and the policy's release_share set the
pace jobs are released at (--rpm-cap, default 60000 a minute: spacing 2 ms at share 0.5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.keys import api
from tests.support.processes import ROOT, start_proxy_with_sidecar
from tests.support.upstream import UpstreamServer

LEAD_S = 30


def policy(opening: datetime, rpm_cap: int) -> dict[str, Any]:
    """The example policy in UTC with the local model open ten minutes from `opening`."""
    document: dict[str, Any] = json.loads((ROOT / "policy/examples/default.json").read_text())
    document["timezone"] = "UTC"
    end = opening + timedelta(minutes=10)
    for model in document["models"]:
        if model["name"] == "local/smollm2":
            model["usage_windows"] = [
                {"start": opening.strftime("%H:%M"), "end": end.strftime("%H:%M")}
            ]
            model["rpm_cap"] = rpm_cap
            model["tpm_cap"] = 100_000_000
    route = {"prefer": ["local/smollm2"], "stream": False}
    document["rules"].insert(0, {"id": "nightly", "match": {"task": "nightly"}, "route": route})
    return document


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(jobs: int, rpm_cap: int) -> None:
    """Queue `jobs` for the next opening and report the delays."""
    work = Path(tempfile.mkdtemp(prefix="symphony-deferred-"))
    soon = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    opening = soon.replace(second=0, microsecond=0) + timedelta(minutes=1)
    (work / "policy.json").write_text(json.dumps(policy(opening, rpm_cap)))
    with UpstreamServer(models=("smollm2",)) as upstream:
        proxy, opa = start_proxy_with_sidecar(
            work,
            {
                "SYMPHONY_DATA_DIR": str(work / "data"),
                "SYMPHONY_POLICY_FILE": str(work / "policy.json"),
                "SYMPHONY_GATEWAY_URL": upstream.url,
                "SYMPHONY_LOCAL_MODEL_URL": "",
            },
        )
        try:
            until = (opening + timedelta(minutes=5)).isoformat()

            def submit(n: int) -> str:
                answer = api().post(
                    f"{proxy.url}/route/execute",
                    json={
                        "task": "nightly",
                        "loa": 1,
                        "input": f"job {n}",
                        "defer": {"until": until},
                    },
                    timeout=30,
                )
                if answer.status_code != 202:
                    raise RuntimeError(f"job {n}: {answer.status_code} {answer.text[:300]}")
                job_id: str = answer.json()["job_id"]
                return job_id

            with ThreadPoolExecutor(8) as pool:
                created = list(pool.map(submit, range(jobs)))
            if time.time() >= opening.timestamp():
                raise RuntimeError("submitting took longer than the lead: raise LEAD_S")
            print(f"{jobs} jobs queued for the window opening at {opening:%H:%M:%S} UTC")
            done: dict[str, dict[str, Any]] = {}
            deadline = opening.timestamp() + 120
            while len(done) < jobs and time.time() < deadline:
                listed = api().get(f"{proxy.url}/jobs?state=done&limit=500", timeout=10).json()
                done = {j["job_id"]: j for j in listed["jobs"]}
                time.sleep(0.5)
            if len(done) < jobs:
                raise RuntimeError(f"only {len(done)} of {jobs} jobs done after 120 s")
            details = [api().get(f"{proxy.url}/jobs/{i}", timeout=10).json() for i in created]
        finally:
            opa.stop()
            proxy.stop()
        calls = len(upstream.requests_for("smollm2"))
    at = opening.timestamp()
    starts = [datetime.fromisoformat(d["started_at"]).timestamp() - at for d in details]
    ends = [datetime.fromisoformat(d["finished_at"]).timestamp() - at for d in details]
    late = [
        datetime.fromisoformat(d["started_at"]).timestamp()
        - datetime.fromisoformat(d["planned_start"]).timestamp()
        for d in details
    ]
    print(f"upstream calls: {calls} (one per job)")
    print(f"{'delay after the opening':<28} {'p50 s':>8} {'p95 s':>8} {'max s':>8}")
    for name, values in (("job start", starts), ("job done", ends), ("start - planned", late)):
        print(
            f"{name:<28} {statistics.median(values):>8.3f} {percentile(values, 0.95):>8.3f}"
            f" {max(values):>8.3f}"
        )


def main() -> None:
    """Parse arguments and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rpm-cap", type=int, default=60000)
    args = parser.parse_args()
    measure(args.jobs, args.rpm_cap)


if __name__ == "__main__":
    main()
