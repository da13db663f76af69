"""Deferred jobs end to end with a fixed clock, a real OPA sidecar and the stand-in upstream:
a request refused for capacity alone becomes a job planned for the policy's next opening, is
decided again when it starts, runs once, expires past its deadline, survives a restart, and
reports to a signed callback. Governance refusals are never queued."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.integration.conftest import traffic_policy
from tests.support.keys import signed_in
from tests.support.processes import free_port
from tests.support.replay import assert_every_record_replays
from tests.support.served import with_sidecar
from tests.support.upstream import UpstreamServer

BERLIN = ZoneInfo("Europe/Berlin")
SECRET = "callback-secret-0123456789"
WEEKDAYS = [{"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}]


def berlin(*parts: int) -> float:
    """An instant given as Berlin wall-clock time."""
    return datetime(*parts, tzinfo=BERLIN).timestamp()  # type: ignore[arg-type,misc]


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class FixedClock:
    """The app's clock: it moves only when a test moves it."""

    at: float = field(default_factory=lambda: berlin(2026, 11, 20, 23, 30))

    def __call__(self) -> float:
        return self.at


def deferred_policy(windows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """alpha opens 09:00-17:00 Mon-Fri Berlin; beta serves qa only."""
    policy = traffic_policy()
    for model in policy["models"]:
        if model["name"] == "hosted/alpha":
            model["usage_windows"] = windows or WEEKDAYS
        if model["name"] == "hosted/beta":
            model["allow_tasks"] = ["qa"]
    policy["rules"] = [
        {"id": "batch", "match": {"task": "batch"}, "route": {"prefer": ["hosted/alpha"]}},
        {
            "id": "mixed",
            "match": {"task": "mixed"},
            "route": {"prefer": ["hosted/alpha"], "fallback": ["hosted/beta"]},
        },
    ]
    policy["deferred"] = {"release_share": 0.5}
    return policy


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(deferred_policy()))
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


class Receiver:
    """A callback endpoint: records what it is sent, answers the statuses it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                status = outer.statuses.pop(0) if outer.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/done"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def deferred_settings(traffic_settings: Settings, receiver: Receiver) -> Settings:
    return replace(
        traffic_settings,
        callback_secret=SECRET,
        callback_hosts=(f"127.0.0.1:{receiver.server.server_port}",),
    )


@contextmanager
def running(settings: Settings, clock: FixedClock, opa_port: int, logs: Path) -> Iterator[Flask]:
    """An app on `settings` with the fixed clock and its own sidecar; its decisions replay."""
    application = create_app(
        {
            "TESTING": True,
            "SETTINGS": replace(settings, opa_url=f"http://127.0.0.1:{opa_port}"),
            "CLOCK": clock,
        }
    )
    with with_sidecar(application, opa_port, logs):
        yield application
    assert_every_record_replays(application)


@pytest.fixture
def jobs(
    deferred_settings: Settings, clock: FixedClock, opa_port: int, logs_dir: Path
) -> Iterator[FlaskClient]:
    """A signed-in (admin) client of the app."""
    with running(deferred_settings, clock, opa_port, logs_dir) as application:
        yield signed_in(application)


def runner(client: FlaskClient) -> Any:
    return client.application.extensions["symphony"].deferred


def defer(client: FlaskClient, until: float, task: str = "batch", **extra: Any) -> Any:
    body = {
        "task": task,
        "loa": 1,
        "input": "summarise the night",
        "defer": {"until": rfc3339(until), **extra},
    }
    return client.post("/route/execute", json=body)


def job(client: FlaskClient, job_id: str) -> dict[str, Any]:
    found = client.get(f"/jobs/{job_id}")
    assert found.status_code == 200, found.get_json()
    body: dict[str, Any] = found.get_json()
    return body


def put_policy(client: FlaskClient, document: dict[str, Any]) -> str:
    """Activate `document` and wait until the sidecar decides under it."""
    current = client.get("/policy").get_json()
    saved = client.put("/policy", json=document, headers={"If-Match": current["etag"]})
    assert saved.status_code == 200, saved.get_json()
    wanted: str = saved.get_json()["etag"].strip('"')
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        plan = client.post("/route/plan?explain=off", json={"task": "batch", "loa": 1})
        if plan.get_json()["decision"]["revision"] == wanted:
            return wanted
        time.sleep(0.05)
    raise AssertionError(f"the sidecar never decided under {wanted}")


def duration(minutes: int) -> str:
    """policy/rego/windows.rego's `duration`, to compare OPA's sentence with the plan."""
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 1440:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(minutes, 1440)
    return f"{days} d {rest // 60} h" if rest // 60 else f"{days} d"


# ---- planned start and run -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("friday", "monday_utc"),
    [
        ((2026, 11, 20, 23, 30), (2026, 11, 23, 8, 0)),
        ((2026, 3, 27, 23, 30), (2026, 3, 30, 7, 0)),  # clocks go forward on Sunday
        ((2026, 10, 23, 23, 30), (2026, 10, 26, 8, 0)),  # clocks go back on Sunday
    ],
)
def test_a_job_deferred_friday_night_starts_monday_nine_berlin_and_runs_once(
    jobs: FlaskClient,
    clock: FixedClock,
    upstream: UpstreamServer,
    friday: tuple[int, ...],
    monday_utc: tuple[int, ...],
) -> None:
    clock.at = berlin(*friday)
    answer = defer(jobs, clock.at + 4 * 86400)

    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    planned = datetime(*monday_utc, tzinfo=UTC).timestamp()  # type: ignore[arg-type,misc]
    assert instant(body["planned_start"]) == planned
    assert (body["state"], body["planned_model"]) == ("queued", "hosted/alpha")
    assert answer.headers["Location"] == f"/jobs/{body['job_id']}"
    [reason] = body["reasons"]
    assert reason["reason"] == "window_closed"
    # OPA's own sentence (policy/rego/windows.rego) agrees with the planner's instant.
    wait = duration(int((planned - clock.at) // 60))
    assert reason["detail"] == f"opens 09:00 Mon\u2013Fri Europe/Berlin, in {wait}"
    assert upstream.requests == []

    clock.at = planned - 1
    assert runner(jobs).run_due() == []
    clock.at = planned
    assert [j.id for j in runner(jobs).run_due()] == [body["job_id"]]
    assert runner(jobs).run_due() == []

    done = job(jobs, body["job_id"])
    assert done["state"] == "done"
    assert done["result"]["output"]["text"] == "echo: summarise the night"
    assert instant(done["started_at"]) == planned
    assert [d["allow"] for d in done["decisions"]] == [False, True]
    assert [a["outcome"] for a in done["attempts"]] == ["ok"]
    assert jobs.get(f"/runs/{done['audit_id']}").get_json()["source"] == "deferred"
    assert len(upstream.requests_for("alpha")) == 1


def test_jobs_waiting_for_the_same_opening_are_released_at_the_policys_pace(
    jobs: FlaskClient, clock: FixedClock
) -> None:
    created = [defer(jobs, clock.at + 4 * 86400).get_json() for _ in range(3)]
    opening = berlin(2026, 11, 23, 9, 0)
    # alpha: rpm_cap 1000, release_share 0.5 -> 500 a minute, one every 0.12 s.
    starts = [round(instant(c["planned_start"]) - opening, 3) for c in created]
    assert starts == [0.0, 0.12, 0.24]
    clock.at = opening + 0.12
    assert len(runner(jobs).run_due()) == 2
    listed = jobs.get("/status/queue.json").get_json()
    assert len(listed["jobs"]) == 3
    assert listed["counts"] == {"done": 2, "queued": 1}
    assert listed["waiting"]["hosted/alpha"]["queued"] == 1


def test_a_policy_change_before_the_start_decides_the_job_again(
    jobs: FlaskClient, clock: FixedClock, upstream: UpstreamServer
) -> None:
    created = defer(jobs, berlin(2026, 11, 23, 18, 0)).get_json()
    first_revision = job(jobs, created["job_id"])["decisions"][0]["revision"]
    later = [{"start": "10:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}]
    second_revision = put_policy(jobs, deferred_policy(later))

    clock.at = berlin(2026, 11, 23, 9, 0)
    runner(jobs).run_due()
    requeued = job(jobs, created["job_id"])
    assert requeued["state"] == "queued"
    assert instant(requeued["planned_start"]) == berlin(2026, 11, 23, 10, 0)
    assert [d["revision"] for d in requeued["decisions"]] == [first_revision, second_revision]
    assert requeued["reasons"][0]["detail"].startswith("opens 10:00 Mon\u2013Fri")
    assert upstream.requests == []

    clock.at = berlin(2026, 11, 23, 10, 0)
    runner(jobs).run_due()
    assert job(jobs, created["job_id"])["state"] == "done"
    assert len(upstream.requests_for("alpha")) == 1


def test_past_its_deadline_a_job_expires_with_the_last_decisions_reasons(
    jobs: FlaskClient, clock: FixedClock
) -> None:
    # Claimed at 09:00 by a proxy that stopped; never started before its deadline.
    missed = defer(jobs, berlin(2026, 11, 23, 9, 30)).get_json()
    # Re-decided at 09:00 under a policy that now opens at 10:00, after its 09:30 deadline.
    moved = defer(jobs, berlin(2026, 11, 23, 9, 30)).get_json()
    put_policy(jobs, deferred_policy([{"start": "10:00", "end": "17:00"}]))

    clock.at = berlin(2026, 11, 23, 9, 0, 1)
    taken = runner(jobs).jobs.claim_due(clock.at, 1, 3600.0, "elsewhere")
    assert [j.id for j in taken] == [missed["job_id"]]
    runner(jobs).run_due()
    expired = job(jobs, moved["job_id"])
    assert expired["state"] == "expired"
    assert [r["reason"] for r in expired["reasons"]] == ["window_closed"]
    assert expired["reasons"][0]["detail"].startswith("opens 10:00 daily")
    assert len(expired["decisions"]) == 2 and expired["audit_id"]

    clock.at = berlin(2026, 11, 23, 12, 0)  # the other proxy's lease has lapsed
    runner(jobs).run_due()
    late = job(jobs, missed["job_id"])
    assert late["state"] == "expired"
    assert len(late["decisions"]) == 1  # the deadline had passed: not decided again
    assert late["reasons"][0]["detail"].startswith("opens 09:00 Mon\u2013Fri")

    metrics = jobs.get("/metrics").get_data(as_text=True)
    assert 'symphony_jobs_expired_total{reason="window_closed"} 2.0' in metrics
    assert 'symphony_jobs{state="expired"} 2.0' in metrics
    # A deadline before the next opening is refused up front.
    clock.at = berlin(2026, 11, 23, 18, 0)
    refused = defer(jobs, berlin(2026, 11, 24, 9, 30))
    assert refused.status_code == 429
    assert instant(refused.get_json()["planned_start"]) == berlin(2026, 11, 24, 10, 0)


def test_a_restart_in_the_middle_loses_nothing(
    deferred_settings: Settings,
    clock: FixedClock,
    logs_dir: Path,
    upstream: UpstreamServer,
) -> None:
    with running(deferred_settings, clock, free_port(), logs_dir) as first:
        client = signed_in(first)
        claimed = defer(client, clock.at + 4 * 86400).get_json()["job_id"]
        waiting = defer(client, clock.at + 4 * 86400).get_json()["job_id"]
        clock.at = berlin(2026, 11, 23, 9, 0, 1)
        # This proxy claims the first job and stops before running it.
        taken = runner(client).jobs.claim_due(clock.at, 1, 600.0, "stopped-proxy")
        assert [j.id for j in taken] == [claimed]

    with running(deferred_settings, clock, free_port(), logs_dir) as second:
        client = signed_in(second)
        assert [j.id for j in runner(client).run_due()] == [waiting]
        assert job(client, claimed)["state"] == "running"
        clock.at += 601  # the stopped proxy's lease lapses
        assert [j.id for j in runner(client).run_due()] == [claimed]
        resumed = job(client, claimed)
        assert resumed["state"] == "done"
        assert [a["outcome"] for a in resumed["attempts"]] == ["lease_expired", "ok"]
    assert len(upstream.requests_for("alpha")) == 2


# ---- what is never queued ------------------------------------------------------------------


def test_a_governance_refusal_is_never_queued(jobs: FlaskClient, clock: FixedClock) -> None:
    until = clock.at + 4 * 86400
    no_rule = defer(jobs, until, task="unknown")
    assert (no_rule.status_code, no_rule.get_json()["error"]) == (403, "no_matching_rule")
    # alpha's window is closed, but beta refuses the task whatever the time: not deferrable.
    mixed = defer(jobs, until, task="mixed")
    assert (mixed.status_code, mixed.get_json()["error"]) == (429, "no_model_available")
    assert "job_id" not in mixed.get_json()
    switched = jobs.put("/controls/kill-switch", json={"on": True, "reason": "drill"})
    assert switched.status_code == 200, switched.get_json()
    killed = jobs.post(
        "/route/execute",
        json={"task": "batch", "loa": 2, "input": "x", "defer": {"until": rfc3339(until)}},
    )
    assert (killed.status_code, killed.get_json()["error"]) == (403, "kill_switch")
    assert jobs.get("/jobs").get_json()["jobs"] == []


def test_an_allowed_request_with_defer_runs_now(
    jobs: FlaskClient, clock: FixedClock, upstream: UpstreamServer
) -> None:
    clock.at = berlin(2026, 11, 23, 11, 0)
    answer = defer(jobs, clock.at + 3600)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["model"] == "hosted/alpha"
    assert jobs.get("/jobs").get_json()["jobs"] == []


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({}, "$.defer.until"),
        ({"until": "next monday"}, "$.defer.until"),
        ({"until": "2026-11-23T09:00:00"}, "$.defer.until"),  # no offset
        ({"until": "2026-11-20T10:00:00Z"}, "$.defer.until"),  # already past
        ({"until": "2027-06-01T00:00:00Z"}, "$.defer.until"),  # beyond 30 days
        ({"until": "2026-11-24T00:00:00Z", "when": 1}, "$.defer.when"),
        ({"until": "2026-11-24T00:00:00Z", "callback_url": "http://example.com/x"}, None),
        ({"until": "2026-11-24T00:00:00Z", "callback_url": "file:///etc/passwd"}, None),
        ("soon", "$.defer"),
    ],
)
def test_bad_defer_values_are_400s_naming_the_field(
    jobs: FlaskClient, value: Any, field: str | None
) -> None:
    answer = jobs.post("/route/execute", json={"task": "batch", "loa": 1, "defer": value})
    body = answer.get_json()
    assert answer.status_code == 400, body
    fields = [e["field"] for e in body["errors"]]
    assert fields == [field or "$.defer.callback_url"], body
    assert jobs.get("/jobs").get_json()["jobs"] == []


def test_clients_see_and_cancel_only_their_own_jobs(jobs: FlaskClient, clock: FixedClock) -> None:
    def client_key(name: str) -> dict[str, str]:
        created = jobs.post("/keys", json={"name": name, "roles": ["client"]})
        assert created.status_code == 201, created.get_json()
        return {"Authorization": f"Bearer {created.get_json()['key']}"}

    alice, bob = client_key("alice"), client_key("bob")
    body = {
        "task": "batch",
        "loa": 1,
        "input": "x",
        "defer": {"until": rfc3339(clock.at + 86400 * 4)},
    }
    made = jobs.post("/route/execute", json=body, headers=alice)
    assert made.status_code == 202, made.get_json()
    job_id = made.get_json()["job_id"]

    assert jobs.get("/jobs", headers=bob).get_json()["jobs"] == []
    assert jobs.get(f"/jobs/{job_id}", headers=bob).status_code == 404
    assert jobs.delete(f"/jobs/{job_id}", headers=bob).status_code == 404
    own = jobs.get("/jobs", headers=alice).get_json()
    assert [j["job_id"] for j in own["jobs"]] == [job_id] and "counts" not in own
    assert jobs.get(f"/jobs/{job_id}", headers=alice).get_json()["owner"] == "alice"
    assert (
        jobs.get("/jobs?state=queued&model=hosted/alpha").get_json()["jobs"][0]["owner"] == "alice"
    )
    assert jobs.get("/jobs?state=done").get_json()["jobs"] == []

    cancelled = jobs.delete(f"/jobs/{job_id}", headers=alice)
    assert (cancelled.status_code, cancelled.get_json()["state"]) == (200, "cancelled")
    again = jobs.delete(f"/jobs/{job_id}")
    assert (again.status_code, again.get_json()["error"]) == (409, "not_queued")
    clock.at = berlin(2026, 11, 23, 9, 0)
    assert runner(jobs).run_due() == []


def test_jobs_are_listed_newest_first_in_pages(jobs: FlaskClient, clock: FixedClock) -> None:
    made = [defer(jobs, clock.at + 4 * 86400).get_json()["job_id"] for _ in range(3)]
    first = jobs.get("/jobs?limit=2").get_json()
    assert [j["job_id"] for j in first["jobs"]] == made[:0:-1]
    rest = jobs.get(f"/jobs?limit=2&before={first['next_before']}").get_json()
    assert [j["job_id"] for j in rest["jobs"]] == made[:1]
    assert rest["next_before"] is None
    for query, named in (
        ("limit=0", "?limit"),
        ("state=waiting", "?state"),
        ("color=red", "?color"),
    ):
        answer = jobs.get(f"/jobs?{query}")
        assert answer.status_code == 400
        assert answer.get_json()["errors"][0]["field"] == named


# ---- callbacks and the OpenAI door ---------------------------------------------------------


def test_the_result_is_posted_signed_to_the_callback_and_retried(
    jobs: FlaskClient, clock: FixedClock, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    created = defer(jobs, clock.at + 4 * 86400, callback_url=receiver.url).get_json()
    clock.at = berlin(2026, 11, 23, 9, 0)
    active = runner(jobs)
    active.run_due()
    assert active.deliver_callbacks() == 0  # answered 500
    assert job(jobs, created["job_id"])["callback"]["state"] == "pending"
    assert active.deliver_callbacks() == 0 and len(receiver.received) == 1  # not yet due
    clock.at += 2
    assert active.deliver_callbacks() == 1

    headers, body = receiver.received[-1]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Symphony-Signature"] == f"sha256={expected}"
    sent = json.loads(body)
    assert (sent["job_id"], sent["state"]) == (created["job_id"], "done")
    assert sent["result"]["output"]["text"] == "echo: summarise the night"
    assert job(jobs, created["job_id"])["callback"] == {
        "url": receiver.url,
        "state": "delivered",
        "attempts": 2,
    }


def test_the_openai_door_defers_through_metadata(jobs: FlaskClient, clock: FixedClock) -> None:
    def chat(defer_value: str) -> Any:
        return jobs.post(
            "/v1/chat/completions",
            json={
                "model": "auto",
                "messages": [{"role": "user", "content": "nightly digest"}],
                "metadata": {
                    "symphony_task": "batch",
                    "symphony_loa": "1",
                    "symphony_defer": defer_value,
                },
            },
        )

    answer = chat(json.dumps({"until": rfc3339(clock.at + 4 * 86400)}))
    assert answer.status_code == 202, answer.get_json()
    assert instant(answer.get_json()["planned_start"]) == berlin(2026, 11, 23, 9, 0)
    bad = chat("tomorrow")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["param"] == "$.metadata.symphony_defer"
    clock.at = berlin(2026, 11, 23, 9, 0)
    runner(jobs).run_due()
    done = job(jobs, answer.get_json()["job_id"])
    assert done["state"] == "done"
    assert done["result"]["output"]["text"] == "echo: nightly digest"
