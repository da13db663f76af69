"""The incident loop against a real Alertmanager and the GitHub and Jira stand-ins.

The app runs in the test process with its background jobs off; the tests run its incident
worker step by step (`drain`), so every assertion is about a known state, not a race.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.adapters.sql.incidents import SqlIncidents
from app.bootstrap import Services
from app.core.incidents import fingerprint_label
from app.incident_worker import IncidentWorker
from app.settings import GitHubSettings, IncidentSettings, JiraSettings, Settings
from tests.support.alertmanager import post_alerts, silences, start_alertmanager
from tests.support.github_standin import GitHubStandIn
from tests.support.jira_standin import JiraStandIn
from tests.support.keys import KEY_SETTINGS, bearer, signed_in
from tests.support.processes import Service, free_port
from tests.support.served import serve
from tests.support.waiting import eventually

ALERTMANAGER_KEY = "sym_test-alertmanager-0123456789abcdefghijklmnopqrstuvwxyz"
FINGERPRINT = "3f1c2b4a5d6e7f80"
LABELS = {
    "alertname": "ProviderThrottling",
    "model": "hosted/alpha",
    "severity": "warning",
    "job": "symphony-proxy",
}
ANNOTATIONS = {
    "summary": "The upstream provider is throttling a model (HTTP 429).",
    "description": "40% of gateway attempts to hosted/alpha were answered 429.",
    "runbook_url": "https://symphony.example.com/docs/runbooks.md#provider-429s",
}


def notification(status: str = "firing", **labels: str) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) with one alert."""
    alert_labels = {**LABELS, **labels}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ProviderThrottling", model="hosted/alpha"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "symphony",
        "groupLabels": {"alertname": alert_labels["alertname"], "model": alert_labels["model"]},
        "commonLabels": alert_labels,
        "commonAnnotations": ANNOTATIONS,
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": alert_labels,
                "annotations": ANNOTATIONS,
                "startsAt": "2026-11-27T10:00:00Z",
                "endsAt": "2026-11-27T10:30:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=...",
                "fingerprint": FINGERPRINT,
            }
        ],
    }


@dataclass
class Loop:
    """The app, its worker, the stand-ins and a real Alertmanager."""

    app: Flask
    github: GitHubStandIn
    jira: JiraStandIn
    alertmanager: Service
    url: str
    data_dir: Path

    @property
    def services(self) -> Services:
        """The app's services."""
        found: Services = self.app.extensions["symphony"]
        return found

    @property
    def worker(self) -> IncidentWorker:
        """The app's incident worker (not started: the tests run it)."""
        return self.services.incident_worker

    def post(self, body: Any, key: str = ALERTMANAGER_KEY) -> Any:
        """POST a notification the way Alertmanager does."""
        client = self.app.test_client()
        return client.post("/alerts/alertmanager", json=body, headers=bearer(key))

    def incidents(self, state: str = "all") -> list[dict[str, Any]]:
        """GET /incidents as an operator."""
        response = signed_in(self.app).get(f"/incidents?state={state}")
        assert response.status_code == 200, response.get_json()
        found: list[dict[str, Any]] = response.get_json()["incidents"]
        return found


def settings_for(
    data_dir: Path, github: GitHubStandIn, jira: JiraStandIn, alertmanager_url: str, **extra: Any
) -> Settings:
    """Settings wiring the app to the stand-ins and Alertmanager, with quick retries."""
    incidents = IncidentSettings(
        alertmanager_url=alertmanager_url,
        alertmanager_key=ALERTMANAGER_KEY,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
        max_attempts=4,
        **extra,
    )
    return Settings(
        data_dir=data_dir,
        background_jobs=False,
        github=GitHubSettings("acme", "ops", github.token, github.url),
        jira=JiraSettings(jira.url, jira.email, jira.token, jira.project),
        incidents=incidents,
        **KEY_SETTINGS,  # type: ignore[arg-type]
    )


@pytest.fixture
def loop(tmp_path: Path, logs_dir: Path) -> Iterator[Loop]:
    """Everything, started; stopped afterwards."""
    github = GitHubStandIn().start()
    jira = JiraStandIn().start()
    key_file = tmp_path / "alertmanager.key"
    key_file.write_text(ALERTMANAGER_KEY + "\n")
    port = free_port()
    alertmanager = start_alertmanager(
        logs_dir, tmp_path / "am", f"http://127.0.0.1:{port}", key_file
    )
    try:
        settings = settings_for(tmp_path / "data", github, jira, alertmanager.url)
        app = create_app({"TESTING": True, "SETTINGS": settings})
        with serve(app, port) as url:
            yield Loop(app, github, jira, alertmanager, url, tmp_path / "data")
    finally:
        alertmanager.stop()
        github.stop()
        jira.stop()


# ---- the lifecycle ---------------------------------------------------------------------------


def test_firing_opens_one_ticket_each_and_silences_repeat_comments_resolve_closes(
    loop: Loop,
) -> None:
    started = time.perf_counter()
    response = loop.post(notification())
    assert response.status_code == 200, response.get_json()
    assert time.perf_counter() - started < 2.0
    assert response.get_json()["alerts"][0]["opened"] is True
    # The receiver only wrote to the store: nothing was sent to GitHub or Jira yet.
    assert loop.github.requests == [] and loop.jira.requests == []
    (incident,) = loop.incidents()
    assert incident["work"]["pending"] == 2 and incident["github"] is None

    loop.worker.drain()

    (issue,) = loop.github.issues.values()
    assert issue.title.startswith("[warning] ProviderThrottling: hosted/alpha")
    assert issue.labels == ["incident", "warning", fingerprint_label(FINGERPRINT)]
    assert ANNOTATIONS["runbook_url"] in issue.body and "`model` = `hosted/alpha`" in issue.body
    assert "Model matrix:" in issue.body  # Symphony's context at the time of filing
    (ticket,) = loop.jira.issues.values()
    assert ticket.fields["priority"]["name"] == "High"
    assert ticket.fields["issuetype"]["name"] == "Task"
    assert fingerprint_label(FINGERPRINT) in ticket.fields["labels"]
    # The warning is muted in Alertmanager while the tickets are open, naming them.
    (silence,) = silences(loop.alertmanager.url)
    assert "/issues/1" in silence["comment"] and "/browse/OPS-1" in silence["comment"]
    matchers = {m["name"]: m["value"] for m in silence["matchers"]}
    assert matchers == LABELS
    ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
    assert timedelta(hours=3.9) < ends - datetime.now(UTC) <= timedelta(hours=4)
    (incident,) = loop.incidents("open")
    assert incident["github"]["url"].endswith("/acme/ops/issues/1")
    assert incident["jira"] == {"key": "OPS-1", "url": f"{loop.jira.url}/browse/OPS-1"}
    assert incident["silence_id"] == silence["id"]
    assert incident["work"] == {"pending": 0, "failed": 0}

    # The same alert notified again: one comment on each ticket, no second ticket.
    assert loop.post(notification()).get_json()["alerts"][0]["opened"] is False
    loop.worker.drain()
    assert len(loop.github.issues) == 1 and len(loop.jira.issues) == 1
    assert len(loop.github.issue_comments(1)) == 1
    assert "Still firing (notification 2)" in loop.github.issue_comments(1)[0]
    assert len(loop.jira.comment_texts("OPS-1")) == 1

    # Resolved: a comment, the issue closed, the Jira issue moved to Done, the silence expired.
    loop.post(notification("resolved"))
    loop.worker.drain()
    assert issue.state == "closed" and issue.state_reason == "completed"
    assert "Resolved at 2026-11-27T10:30:00Z" in loop.github.issue_comments(1)[-1]
    assert ticket.status == "Done" and ticket.transitions == ["31"]
    assert len(loop.jira.comment_texts("OPS-1")) == 2
    assert silences(loop.alertmanager.url) == []
    (expired,) = silences(loop.alertmanager.url, "expired")
    assert expired["id"] == silence["id"]
    assert loop.incidents("open") == []
    (closed,) = loop.incidents("resolved")
    assert closed["state"] == "resolved" and closed["resolved_at"] is not None


def test_alerts_sent_by_a_real_alertmanager_reach_the_receiver_with_its_key(loop: Loop) -> None:
    critical = {**LABELS, "alertname": "PolicyEngineDown", "severity": "critical"}
    alert = {
        "labels": critical,
        "annotations": ANNOTATIONS,
        "startsAt": datetime.now(UTC).isoformat(),
    }
    post_alerts(loop.alertmanager.url, [alert])
    (incident,) = eventually(lambda: loop.incidents("open"), timeout_s=30.0, what="the incident")
    assert incident["alertname"] == "PolicyEngineDown"
    loop.worker.drain()
    assert len(loop.github.issues) == 1
    assert loop.github.issues[1].labels[:2] == ["incident", "critical"]
    assert loop.jira.issues["OPS-1"].fields["priority"]["name"] == "Highest"
    assert silences(loop.alertmanager.url) == []  # only warnings are muted
    # Alertmanager repeats the notification (repeat_interval 4 s): comments, no new ticket.
    eventually(
        lambda: loop.incidents("open")[0]["notifications"] >= 2, timeout_s=30.0, what="a repeat"
    )
    loop.worker.drain()
    assert len(loop.github.issues) == 1 and len(loop.github.issue_comments(1)) >= 1
    # Prometheus ends the alert: Alertmanager sends it resolved, the issue is closed.
    post_alerts(loop.alertmanager.url, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])
    eventually(lambda: loop.incidents("resolved"), timeout_s=30.0, what="the resolution")
    loop.worker.drain()
    assert loop.github.issues[1].state == "closed"
    assert loop.jira.issues["OPS-1"].status == "Done"
    # Exactly one comment per notification received.
    (incident,) = loop.incidents("resolved")
    repeats = incident["notifications"] - 1
    assert len(loop.github.issue_comments(1)) == repeats + 1  # + the resolution
    assert len(loop.jira.comment_texts("OPS-1")) == repeats + 1


def test_a_silenced_alert_that_ends_is_resolved_by_reconciliation(loop: Loop) -> None:
    alert = {
        "labels": LABELS,
        "annotations": ANNOTATIONS,
        "startsAt": datetime.now(UTC).isoformat(),
    }
    post_alerts(loop.alertmanager.url, [alert])
    eventually(lambda: loop.incidents("open"), timeout_s=30.0, what="the incident")
    loop.worker.drain()
    assert len(silences(loop.alertmanager.url)) == 1
    # Muted: Alertmanager will not notify the resolution. It drops the alert once resolved.
    post_alerts(loop.alertmanager.url, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])
    time.sleep(1.0)
    assert loop.worker.reconcile() == 1
    loop.worker.drain()
    assert loop.github.issues[1].state == "closed"
    assert loop.jira.issues["OPS-1"].status == "Done"
    assert silences(loop.alertmanager.url) == []


# ---- failures --------------------------------------------------------------------------------


def _work(loop: Loop) -> list[dict[str, Any]]:
    return SqlIncidents(loop.services.database).work()


def test_rate_limits_are_honoured_and_errors_retried_with_backoff(loop: Loop) -> None:
    loop.github.fail(403, reset_in_s=30)  # primary rate limit exhausted for 30 s
    loop.jira.fail(429, retry_after=20)
    loop.post(notification(severity="critical"))
    outcome = loop.worker.run_once()
    assert outcome.retried == 2 and loop.github.issues == {} and loop.jira.issues == {}
    due = {w["target"]: datetime.fromisoformat(w["next_attempt_at"]) for w in _work(loop)}
    now = datetime.now(UTC)
    assert timedelta(seconds=25) < due["github"] - now <= timedelta(seconds=32)
    assert timedelta(seconds=17) < due["jira"] - now <= timedelta(seconds=21)
    assert loop.worker.run_once().retried == 0  # nothing is due before the services said
    (incident,) = loop.incidents()
    assert "retrying" in incident["last_event"]

    # 500s are retried with exponential backoff; the work goes through once they stop.
    with loop.services.database.begin() as conn:
        conn.execute(sa.text("UPDATE outbound_work SET next_attempt_at = :t"), {"t": now})
    loop.github.fail(500, times=2)
    deadline = time.monotonic() + 10
    while (not loop.github.issues or not loop.jira.issues) and time.monotonic() < deadline:
        loop.worker.run_once()
        time.sleep(0.05)
    assert len(loop.github.issues) == 1 and len(loop.jira.issues) == 1
    attempts = {w["target"]: w["attempts"] for w in _work(loop) if w["kind"] == "open"}
    assert attempts["github"] == 3  # 403, 500, 500, then done (attempts counts failures)


def test_bad_credentials_fail_the_work_visibly_without_leaking_the_token(
    loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    loop.github.token = "ghp_the_other_token_" + "z" * 20  # ours is now wrong
    loop.jira.fail(500, times=100)
    caplog.set_level(logging.DEBUG)
    loop.post(notification())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        loop.worker.run_once()
        states = {w["target"]: w["status"] for w in _work(loop)}
        if states.get("jira") == "failed" and states.get("github") == "failed":
            break
        time.sleep(0.05)
    states = {w["target"]: w for w in _work(loop)}
    assert states["github"]["status"] == "failed" and states["github"]["attempts"] == 1
    assert "401" in states["github"]["last_error"]
    assert states["jira"]["status"] == "failed" and states["jira"]["attempts"] == 4
    assert "gave up after 4" in states["jira"]["last_error"]
    (incident,) = loop.incidents()
    assert incident["work"]["failed"] == 2 and incident["problem"]
    settings = loop.services.settings
    secrets = [settings.github.token, settings.jira.api_token, ALERTMANAGER_KEY]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    listed = json.dumps(loop.incidents())
    stored = (loop.data_dir / "symphony.db").read_bytes()
    for secret in secrets:
        assert secret and secret not in logged and secret not in listed
        assert secret.encode() not in stored


def test_pending_work_survives_a_restart_and_a_ticket_filed_before_a_crash_is_found(
    loop: Loop, tmp_path: Path
) -> None:
    loop.github.fail(500, times=1)
    loop.jira.fail(500, times=1)
    loop.post(notification())
    assert loop.worker.run_once().retried == 2
    # Meanwhile the GitHub issue was filed by a worker that died before recording it.
    loop.github.fail(500, times=0)
    with loop.github._lock:
        pass
    from tests.support.github_standin import Issue

    loop.github.issues[1] = Issue(1, "filed before a crash", "", [fingerprint_label(FINGERPRINT)])
    # A new process on the same store: the queued work is all there.
    settings = settings_for(loop.data_dir, loop.github, loop.jira, loop.alertmanager.url)
    restarted = create_app({"TESTING": True, "SETTINGS": settings})
    worker: IncidentWorker = restarted.extensions["symphony"].incident_worker
    with restarted.extensions["symphony"].database.begin() as conn:
        conn.execute(
            sa.text("UPDATE outbound_work SET next_attempt_at = :t"), {"t": datetime.now(UTC)}
        )
    worker.drain()
    assert len(loop.github.issues) == 1  # found by its label, not filed twice
    assert len(loop.jira.issues) == 1
    (incident,) = loop.incidents()
    assert incident["github"]["number"] == 1 and incident["jira"]["key"] == "OPS-1"


def test_three_workers_never_do_the_same_work_twice(loop: Loop) -> None:
    for index in range(12):
        fingerprint = f"{index:016x}"
        body = notification(model=f"hosted/m{index}", severity="critical")
        body["alerts"][0]["fingerprint"] = fingerprint
        assert loop.post(body).status_code == 200
    workers = [
        IncidentWorker(
            loop.services.incidents,
            replace(loop.services.settings.incidents, batch=3),
            {"github": _tracker(loop, "github"), "jira": _tracker(loop, "jira")},
            None,
        )
        for _ in range(3)
    ]
    barrier = threading.Barrier(3)

    def run(worker: IncidentWorker) -> None:
        barrier.wait(timeout=10)
        worker.drain(timeout_s=30)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(loop.github.issues) == 12 and len(loop.jira.issues) == 12
    creates = [r for r in loop.github.requests if r.method == "POST" and r.path.endswith("/issues")]
    assert len(creates) == 12


def _tracker(loop: Loop, target: str) -> Any:
    from app.adapters.github import GitHubTracker
    from app.adapters.jira_client import JiraTracker

    settings = loop.services.settings
    if target == "github":
        return GitHubTracker(settings.github)
    return JiraTracker(settings.jira, settings.incidents)


# ---- the receiver's input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "3", "alerts": []}, "$.version"),
        ({"version": "4"}, "$.alerts"),
        (
            {
                "version": "4",
                "alerts": [{"status": "odd", "fingerprint": "ab", "labels": {"alertname": "x"}}],
            },
            "$.alerts[0].status",
        ),
        (
            {
                "version": "4",
                "alerts": [
                    {"status": "firing", "fingerprint": "XYZ", "labels": {"alertname": "x"}}
                ],
            },
            "$.alerts[0].fingerprint",
        ),
        (
            {
                "version": "4",
                "alerts": [{"status": "firing", "fingerprint": "ab", "labels": {"a": 1}}],
            },
            "$.alerts[0].labels.a",
        ),
        (
            {
                "version": "4",
                "alerts": [{"status": "firing", "fingerprint": "ab", "labels": {"job": "x"}}],
            },
            "$.alerts[0].labels.alertname",
        ),
        ([1, 2], "$"),
    ],
)
def test_a_malformed_notification_is_refused_naming_the_field(
    loop: Loop, body: Any, field: str
) -> None:
    response = loop.post(body)
    assert response.status_code == 400
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert loop.incidents() == []


def test_only_the_alertmanager_key_may_post_and_bad_listing_parameters_are_refused(
    loop: Loop,
) -> None:
    from tests.support.keys import ADMIN_KEY

    assert loop.post(notification(), key=ADMIN_KEY).status_code == 403
    assert loop.post(notification(), key="sym_" + "n" * 43).status_code == 401
    client: FlaskClient = signed_in(loop.app)
    assert client.get("/incidents?state=closed").get_json()["errors"][0]["field"] == "state"
    assert client.get("/incidents?limit=0").get_json()["errors"][0]["field"] == "limit"
    assert client.get("/incidents?page=2").status_code == 400


# ---- run reports to GitHub -------------------------------------------------------------------


def test_run_reports_are_appended_to_github_in_batches_by_the_worker(
    loop: Loop, tmp_path: Path
) -> None:
    from app.adapters.sql.tables import run_reports
    from app.run_export import queue_export, window_of

    settings = settings_for(
        tmp_path / "reports",
        loop.github,
        loop.jira,
        loop.alertmanager.url,
        github_run_reports="on",
        report_batch=2,
    )
    app = create_app({"TESTING": True, "SETTINGS": settings})
    services: Services = app.extensions["symphony"]
    now = datetime(2026, 11, 27, 10, 7, 30, tzinfo=UTC)
    since, until = window_of(now, 300)
    assert (since.minute, until.minute) == (0, 5)
    ids = [f"run_20261127T10{minute:02d}00Z_00000000000{minute}" for minute in (1, 2, 3)]
    with services.database.begin() as conn:
        for index, audit_id in enumerate(ids):
            conn.execute(
                sa.insert(run_reports).values(
                    audit_id=audit_id,
                    created_at=since + timedelta(minutes=index + 1),
                    body=json.dumps({"audit_id": audit_id, "model": "hosted/alpha"}),
                )
            )
    loop.github.fail(500, times=1)  # a failure is retried like any other work
    assert queue_export(services.incidents.store, now, 300) is True
    assert queue_export(services.incidents.store, now, 300) is False  # once per window
    deadline = time.monotonic() + 10
    while loop.github.commits < 2 and time.monotonic() < deadline:
        services.incident_worker.run_once()
        time.sleep(0.05)
    # Three runs in batches of two: two commits, not three.
    assert loop.github.commits == 2
    first = loop.github.files[f"runs/2026-11-27/{ids[0]}.jsonl"][0]
    assert [json.loads(line)["audit_id"] for line in first.splitlines()] == ids[:2]
    second = loop.github.files[f"runs/2026-11-27/{ids[2]}.jsonl"][0]
    assert json.loads(second)["audit_id"] == ids[2]


# ---- claims on both stores -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, logs_dir: Path) -> Iterator[str]:
    """A fresh database, SQLite or PostgreSQL, migrated."""
    from app.adapters.sql.database import database_url, migrate, open_engine
    from tests.support.postgres import running_postgres

    if request.param == "sqlite":
        url = database_url(None, tmp_path / "data")
        engine = open_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    with running_postgres(logs_dir) as server:
        url = database_url(server.new_database("incidents"), tmp_path)
        engine = open_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


def test_claims_are_exclusive_and_keep_each_incident_in_order(store_url: str) -> None:
    from app.adapters.sql.database import open_engine
    from app.core.incidents import Alert, work_for

    engines = [open_engine(store_url) for _ in range(3)]
    stores = [SqlIncidents(engine) for engine in engines]
    for index in range(10):
        alert = Alert(f"{index:016x}", "firing", {"alertname": "A", "severity": "critical"}, {})
        stores[0].receive(alert, lambda first, a=alert: work_for(a, first, ("github", "jira")))
        stores[0].receive(alert, lambda first, a=alert: work_for(a, first, ("github", "jira")))
    claimed: list[list[int]] = [[], [], []]
    order: list[tuple[int, str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(3)

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        name = f"proxy-{index}"
        while True:
            batch = stores[index].claim(name, 3, 30.0)
            if not batch:
                if stores[index].pending_count() == 0:
                    return
                time.sleep(0.01)
                continue
            for work in batch:
                with lock:
                    order.append((work.incident_id or 0, work.target, work.kind))
                claimed[index].append(work.id)
                assert stores[index].done(work.id, name)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [work_id for ids in claimed for work_id in ids]
    assert len(every) == 40 and len(set(every)) == 40  # each piece of work exactly once
    for incident_id in {i for i, _, _ in order}:
        for target in ("github", "jira"):
            kinds = [k for i, t, k in order if i == incident_id and t == target]
            assert kinds == ["open", "comment"]  # a comment never overtakes its ticket
    for engine in engines:
        engine.dispose()


# ---- the pure pieces -------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    import random

    from app.core.incidents import RetryLater, backoff_s, retry_delay_s

    rng = random.Random(7)
    for attempts, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (10, 600.0), (30, 600.0)):
        delays = [backoff_s(attempts, 2.0, 600.0, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered: proxies retrying together spread out
    assert retry_delay_s(RetryLater("x", 42.0), 1, 2.0, 600.0) == 42.0
    assert retry_delay_s(RetryLater("x", 10**9), 1, 2.0, 600.0) == 86_400.0


def test_github_and_jira_failures_map_to_retry_or_give_up() -> None:
    import requests
    from github import GithubException
    from jira import JIRAError

    from app.adapters.github import github_error
    from app.adapters.jira_client import jira_error
    from app.core.incidents import GiveUp, RetryLater

    now = 1_800_000_000.0
    limited = github_error(
        GithubException(
            403,
            {"message": "API rate limit exceeded for user ID 1."},
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 120)},
        ),
        now,
    )
    assert isinstance(limited, RetryLater) and limited.after_s == 121.0
    secondary = github_error(
        GithubException(429, {"message": "secondary rate limit"}, {"Retry-After": "7"}), now
    )
    assert isinstance(secondary, RetryLater) and secondary.after_s == 7.0
    assert isinstance(github_error(GithubException(502, {"message": "Bad"}, {}), now), RetryLater)
    forbidden = github_error(GithubException(403, {"message": "Resource not accessible"}, {}), now)
    assert isinstance(forbidden, GiveUp)
    assert isinstance(
        github_error(GithubException(422, {"message": "Validation"}, {}), now), GiveUp
    )
    assert isinstance(github_error(requests.ConnectionError("refused"), now), RetryLater)

    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "30"
    throttled = jira_error(JIRAError("Rate limit", 429, response=response))
    assert isinstance(throttled, RetryLater) and throttled.after_s == 30.0
    assert isinstance(jira_error(JIRAError("x", 503, response=None)), RetryLater)
    assert isinstance(jira_error(JIRAError("x", 401, response=None)), GiveUp)


def test_incident_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SYMPHONY_SILENCE_DURATION": "30m",
            "SYMPHONY_JIRA_PRIORITIES": "critical=P1, warning=P3",
            "SYMPHONY_JIRA_DONE_TRANSITION": "Close Issue",
            "SYMPHONY_GITHUB_RUN_REPORTS": "nightly",
            "SYMPHONY_ALERTMANAGER_URL": "http://127.0.0.1:9093/",
        }
    ).incidents
    assert settings.silence_s == 1800.0
    assert settings.jira_priority("critical") == "P1" and settings.jira_priority("info") is None
    assert settings.jira_done_transition == "Close Issue"
    assert settings.github_run_reports == "nightly"
    assert settings.alertmanager_url == "http://127.0.0.1:9093"
    assert Settings.from_env({}).incidents.silence_s == 4 * 3600.0
    with pytest.raises(ValueError, match="SYMPHONY_GITHUB_RUN_REPORTS"):
        Settings.from_env({"SYMPHONY_GITHUB_RUN_REPORTS": "sometimes"})
    with pytest.raises(ValueError, match="SYMPHONY_JIRA_PRIORITIES"):
        Settings.from_env({"SYMPHONY_JIRA_PRIORITIES": "critical"})
