"""Real time, real parts: a proxy as production runs it (`symphony serve`, its scheduler, its
OPA sidecar) and the real local model. A job deferred to a usage window opening at the next
whole minute (UTC) starts within 5 s of the opening, woken by the scheduler."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.keys import api
from tests.support.local_model import start_local_model
from tests.support.processes import ROOT, Service, start_proxy_with_sidecar

pytestmark = pytest.mark.slow

# Time to start the proxy and submit before the window opens.
LEAD_S = 25


def next_whole_minute(lead_s: float = LEAD_S) -> datetime:
    """The first whole minute (UTC) at least `lead_s` from now."""
    soon = datetime.now(UTC) + timedelta(seconds=lead_s)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def window_policy(opening: datetime) -> dict[str, Any]:
    """The example policy in UTC, with the local model open for ten minutes from `opening`
    and a rule that sends `nightly` work to it alone."""
    policy: dict[str, Any] = json.loads((ROOT / "policy/examples/default.json").read_text())
    policy["timezone"] = "UTC"
    for model in policy["models"]:
        if model["name"] == "local/smollm2":
            end = opening + timedelta(minutes=10)
            model["usage_windows"] = [
                {"start": opening.strftime("%H:%M"), "end": end.strftime("%H:%M")}
            ]
    nightly = {"prefer": ["local/smollm2"], "stream": False}
    policy["rules"].insert(0, {"id": "nightly", "match": {"task": "nightly"}, "route": nightly})
    return policy


@pytest.fixture
def local_model(logs_dir: Path) -> Iterator[Service]:
    service = start_local_model(logs_dir)
    yield service
    service.stop()


def test_a_deferred_job_starts_within_5_s_of_its_window_opening(
    tmp_path: Path, logs_dir: Path, local_model: Service
) -> None:
    opening = next_whole_minute()
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(window_policy(opening)))
    proxy, opa = start_proxy_with_sidecar(
        logs_dir,
        {
            "SYMPHONY_DATA_DIR": str(tmp_path / "data"),
            "SYMPHONY_POLICY_FILE": str(policy),
            "SYMPHONY_LOCAL_MODEL_URL": f"{local_model.url}/v1",
        },
    )
    try:
        opa.ready("/health?bundles", timeout_s=30)
        answer = api().post(
            f"{proxy.url}/route/execute",
            json={
                "task": "nightly",
                "loa": 1,
                "input": "What is the capital of France?",
                "max_output_tokens": 24,
                "temperature": 0,
                "defer": {"until": (opening + timedelta(minutes=5)).isoformat()},
            },
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        created = answer.json()
        assert datetime.fromisoformat(created["planned_start"]) == opening
        assert created["reasons"][0]["reason"] == "window_closed"

        job: dict[str, Any] = {}
        deadline = opening.timestamp() + 90
        while time.time() < deadline:
            job = api().get(f"{proxy.url}/jobs/{created['job_id']}", timeout=10).json()
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        assert job["state"] == "done", job
        delay = datetime.fromisoformat(job["started_at"]).timestamp() - opening.timestamp()
        print(f"window opened {opening.isoformat()}, job started {delay:.3f} s later")
        assert 0 <= delay < 5
        assert job["result"]["model"] == "local/smollm2"
        assert "Paris" in job["result"]["output"]["text"]
    finally:
        opa.stop()
        proxy.stop()
