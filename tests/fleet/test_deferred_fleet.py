"""Deferred jobs on a real fleet (scripts/fleet.sh): three proxies, each with its scheduler
polling the same PostgreSQL. Jobs queued on every proxy for a window opening at the next
whole minute run exactly once each, counted on the stand-in upstream."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.fleet import Fleet, active, decided_revision, running_fleet
from tests.support.keys import api
from tests.support.upstream import UpstreamServer

pytestmark = pytest.mark.slow

JOBS = 12
# Time to change the policy and submit before the window opens.
LEAD_S = 20


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer(models=("gemini-1.5-pro", "grok-code-fast-1", "smollm2")) as server:
        yield server


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamServer) -> Iterator[Fleet]:
    with running_fleet(
        tmp_path_factory.mktemp("deferred-fleet"), SYMPHONY_GATEWAY_URL=upstream.url
    ) as running:
        yield running


def open_from(document: dict[str, Any], opening: datetime) -> dict[str, Any]:
    """`document` in UTC, the local model open ten minutes from `opening`, `nightly` work
    routed to it alone."""
    changed = {**document, "timezone": "UTC", "version": f"deferred-{opening:%H%M}"}
    models = []
    for model in document["models"]:
        if model["name"] == "local/smollm2":
            end = opening + timedelta(minutes=10)
            window = {"start": opening.strftime("%H:%M"), "end": end.strftime("%H:%M")}
            model = {**model, "usage_windows": [window], "rpm_cap": 1200}
        models.append(model)
    changed["models"] = models
    nightly = {
        "id": "nightly",
        "match": {"task": "nightly"},
        "route": {"prefer": ["local/smollm2"]},
    }
    changed["rules"] = [nightly] + [r for r in document["rules"] if r["id"] != "nightly"]
    return changed


def test_a_job_whose_window_opens_runs_exactly_once_across_three_proxies(
    fleet: Fleet, upstream: UpstreamServer
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    opening = soon.replace(second=0, microsecond=0) + timedelta(minutes=1)
    current = active(fleet.proxies[0])
    saved = api().put(
        f"{fleet.proxies[0]}/policy",
        json=open_from(current["document"], opening),
        headers={"If-Match": current["etag"]},
        timeout=30,
    )
    assert saved.status_code == 200, saved.text
    wanted = saved.json()["etag"].strip('"')
    settle = time.monotonic() + 10
    while {decided_revision(p) for p in fleet.proxies} != {(200, wanted)}:
        assert time.monotonic() < settle, "the new revision did not reach every sidecar"
        time.sleep(0.05)
    until = (opening + timedelta(minutes=5)).isoformat()
    created = []
    for n in range(JOBS):
        proxy = fleet.proxies[n % 3]
        answer = api().post(
            f"{proxy}/route/execute",
            json={"task": "nightly", "loa": 1, "input": f"job {n}", "defer": {"until": until}},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        created.append(answer.json()["job_id"])
    before = len(upstream.requests_for("smollm2"))
    assert before == 0

    jobs: dict[str, dict[str, Any]] = {}
    deadline = opening.timestamp() + 90
    while time.time() < deadline:
        listed = api().get(f"{fleet.proxies[1]}/jobs?limit=500", timeout=10).json()
        jobs = {j["job_id"]: j for j in listed["jobs"] if j["job_id"] in created}
        if all(j["state"] == "done" for j in jobs.values()) and len(jobs) == JOBS:
            break
        time.sleep(0.5)
    assert {j["state"] for j in jobs.values()} == {"done"}, jobs
    time.sleep(2)  # anything claimed twice would have called the upstream by now

    texts = Counter(r.body["messages"][-1]["content"] for r in upstream.requests_for("smollm2"))
    assert texts == Counter({f"job {n}": 1 for n in range(JOBS)})
    runners: Counter[str] = Counter()
    for job_id in created:
        detail = api().get(f"{fleet.proxies[2]}/jobs/{job_id}", timeout=10).json()
        assert [a["outcome"] for a in detail["attempts"]] == ["ok"], detail
        runners[detail["attempts"][0]["proxy"].split(":")[1]] += 1
        started = datetime.fromisoformat(detail["started_at"])
        assert started >= opening
    print(f"jobs run per proxy process: {dict(runners)}")
