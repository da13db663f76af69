"""Threshold jobs with a fixed clock: budget warn and critical once per model and local day,
the reset at local midnight in the policy's zone across daylight saving, retention, export
windows, and the jobs in the database job store."""

from __future__ import annotations

import json
import queue
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.adapters.sql.tables import run_reports
from app.bootstrap import Services
from app.core.counters import InMemoryCounterStore, budget_day
from app.jobs import PERSISTENT, start_jobs
from app.settings import Settings
from app.thresholds import BudgetWatch, previous_day_window, prune_records
from tests.integration.conftest import traffic_policy
from tests.support.keys import KEY_SETTINGS

BERLIN = "Europe/Berlin"


def at(text: str) -> float:
    """A UTC time as epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """An app whose policy caps hosted/alpha (warn 50%, critical 90%) and hosted/beta
    (defaults: 80%, 95%) at $10 a day, in Europe/Berlin."""
    policy = traffic_policy()
    policy["models"][0]["budget_alerts"] = {"warn_at": 0.5, "critical_at": 0.9}
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy))
    settings = Settings(
        data_dir=tmp_path / "data",
        policy_file=policy_file,
        background_jobs=False,
        **KEY_SETTINGS,  # type: ignore[arg-type]
    )
    return create_app({"TESTING": True, "SETTINGS": settings})


class Clock:
    """A settable clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def watch(app: Flask, clock: Clock, counters: InMemoryCounterStore) -> BudgetWatch:
    """A BudgetWatch over the app's policy and store, with our counters and clock."""
    services: Services = app.extensions["symphony"]
    return BudgetWatch(services.policies.current, counters, services.incidents, clock)


def spend(counters: InMemoryCounterStore, model: str, usd: float, now: float) -> None:
    """Record `usd` for `model` on the Berlin budget day of `now`."""
    counters.record_usage(model, 100, usd, now, budget_day(now, BERLIN))


def incidents(app: Flask) -> list[dict[str, Any]]:
    """Every incident, newest first."""
    services: Services = app.extensions["symphony"]
    return [i.as_dict() for i in services.incidents.store.recent(None)]


def test_warn_then_critical_once_per_model_and_day(app: Flask) -> None:
    services: Services = app.extensions["symphony"]
    events = services.bus.subscribe()
    clock = Clock(at("2026-06-10T10:00:00"))
    counters = InMemoryCounterStore()
    budgets = watch(app, clock, counters)
    spend(counters, "hosted/alpha", 4.0, clock.now)
    spend(counters, "hosted/beta", 7.9, clock.now)
    assert budgets.run() == []  # 40% of alpha (warn at 50%), 79% of beta (warn at 80%)

    spend(counters, "hosted/alpha", 1.5, clock.now)  # 55%
    spend(counters, "hosted/beta", 0.2, clock.now)  # 81%
    raised = budgets.run()
    assert sorted((c.model, c.level) for c in raised) == [
        ("hosted/alpha", "warning"),
        ("hosted/beta", "warning"),
    ]
    message = json.loads(events.get_nowait())
    assert message["type"] == "alert" and message["name"] == "BudgetWarning"
    assert message["severity"] == "warning" and message["message"].startswith("firing: ")
    assert budgets.run() == []  # once per model and day, however often the job runs
    assert len(incidents(app)) == 2

    spend(counters, "hosted/alpha", 3.6, clock.now)  # 91%: critical, before the cap
    (critical,) = budgets.run()
    assert (critical.model, critical.level, critical.day) == (
        "hosted/alpha",
        "critical",
        "2026-06-10",
    )
    newest = incidents(app)[0]
    assert newest["alertname"] == "BudgetCritical" and newest["severity"] == "critical"
    assert newest["labels"]["day"] == "2026-06-10"
    stored = services.incidents.store.get(newest["id"])
    assert stored is not None
    assert "$9.10 of its $10.00 daily cap" in stored.annotations["description"]
    assert newest["runbook_url"] == "http://127.0.0.1:8787/docs/runbooks.md#budget-at-95"
    # Tickets are queued like any alert's (no GitHub/Jira configured here: no work).
    assert newest["state"] == "firing"
    kinds = set()
    while True:
        try:
            kinds.add(json.loads(events.get_nowait())["name"])
        except queue.Empty:
            break
    assert "BudgetCritical" in kinds


@pytest.mark.parametrize(
    ("before", "after", "days"),
    [
        # Autumn: 25 October 2026 lasts 25 hours in Berlin (CEST -> CET at 03:00).
        ("2026-10-25T22:59:00", "2026-10-25T23:00:00", ("2026-10-25", "2026-10-26")),
        # Spring: 29 March 2026 lasts 23 hours (CET -> CEST at 02:00).
        ("2026-03-29T21:59:00", "2026-03-29T22:00:00", ("2026-03-29", "2026-03-30")),
    ],
    ids=["autumn", "spring"],
)
def test_the_budget_day_resets_at_local_midnight_across_dst(
    app: Flask, before: str, after: str, days: tuple[str, str]
) -> None:
    clock = Clock(at(before))
    counters = InMemoryCounterStore()
    budgets = watch(app, clock, counters)
    spend(counters, "hosted/beta", 9.7, clock.now)
    raised = budgets.run()
    assert {(c.level, c.day) for c in raised} == {("warning", days[0]), ("critical", days[0])}
    # A minute before local midnight: still the same budget day, nothing new, nothing resolved.
    assert budgets.run() == []
    assert {i["state"] for i in incidents(app)} == {"firing"}

    clock.now = at(after)  # local midnight: spend starts from zero, yesterday's alerts end
    assert budget_day(clock.now, BERLIN) == days[1]
    assert budgets.run() == []
    assert {i["state"] for i in incidents(app)} == {"resolved"}
    # The new day warns again once the new day's spend crosses.
    spend(counters, "hosted/beta", 8.5, clock.now)
    (again,) = budgets.run()
    assert (again.level, again.day) == ("warning", days[1])
    start, end = previous_day_window(clock.now + 3600, BERLIN)
    assert end - start == timedelta(hours=25 if days[0].endswith("10-25") else 23)


def test_two_proxies_raise_each_budget_alert_once(app: Flask, tmp_path: Path) -> None:
    services: Services = app.extensions["symphony"]
    other = create_app({"TESTING": True, "SETTINGS": services.settings})
    clock = Clock(at("2026-06-10T10:00:00"))
    counters = InMemoryCounterStore()  # as if shared through Redis
    spend(counters, "hosted/alpha", 6.0, clock.now)
    first = watch(app, clock, counters).run()
    second = watch(other, clock, counters).run()
    assert [c.level for c in first] == ["warning"] and second == []
    assert len(incidents(app)) == 1


def test_retention_deletes_what_is_older_than_the_configured_days(app: Flask) -> None:
    services: Services = app.extensions["symphony"]
    now = datetime(2026, 6, 10, tzinfo=UTC)
    with services.database.begin() as conn:
        for audit_id, created in (
            ("run_20260101T000000Z_000000000001", now - timedelta(days=120)),
            ("run_20260601T000000Z_000000000002", now - timedelta(days=9)),
        ):
            conn.execute(
                sa.insert(run_reports).values(audit_id=audit_id, created_at=created, body="{}")
            )
    deleted = prune_records(services.database, now, 90)
    assert deleted["run_reports"] == 1
    assert services.reports.get("run_20260601T000000Z_000000000002") == {}
    assert prune_records(services.database, now, 0) == {}  # 0 keeps everything


def test_the_jobs_are_kept_in_the_database_job_store(app: Flask) -> None:
    services: Services = app.extensions["symphony"]
    scheduler = start_jobs(services)
    try:
        for job_id in ("budget_thresholds", "record_retention", "run_report_export"):
            job = scheduler.get_job(job_id, jobstore=PERSISTENT)
            assert job is not None, job_id
        retention = scheduler.get_job("record_retention", jobstore=PERSISTENT)
        assert str(retention.trigger.timezone) == BERLIN
    finally:
        scheduler.shutdown(wait=False)
    with services.database.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT id FROM scheduler_jobs")).scalars())
    assert {"budget_thresholds", "record_retention", "run_report_export"} <= stored
