"""Threshold jobs: budget alerts per model and day, the day's reset, retention, nightly export.

Jobs live in the scheduler's database job store (app/jobs.py, `PERSISTENT`), so a planned run
survives a restart; every proxy of a fleet runs them, and each claims its effect in the store:
- budget thresholds (every minute): a model whose spend today (the live counters) reaches its
  policy's `budget_alerts.warn_at` (default 0.8 of `daily_usd_cap`) or `critical_at` (0.95)
  gets an `alert` event on the websocket bus and an incident (tickets, like any alert) once per
  model, level and budget day; the mark `budget:<model>:<day>:<level>` in the store makes that
  once for the whole fleet;
- the day's reset: budget days are local days in the policy's time zone (the counters key
  spend by that day), so at local midnight, whatever daylight saving does, spend starts from
  zero and the previous day's budget incidents are resolved (tickets closed);
- run-record retention (daily): run reports, decision records and finished outbound work older
  than SYMPHONY_RECORD_RETENTION_DAYS (default 90; 0 keeps everything) are deleted;
- the run-report export to GitHub (app/run_export.py): SYMPHONY_GITHUB_RUN_REPORTS=on queues
  the last 5-minute window's reports every 5 minutes; `nightly` queues the whole previous
  local day at 00:15 instead (fewer, larger commits).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from app.adapters.sql.incidents import SqlIncidents
from app.adapters.sql.tables import decision_records, outbound_work, run_reports
from app.bootstrap import Services
from app.core.counters import CounterStore, budget_day
from app.core.incidents import FIRING, REPORTS, RESOLVED, RUN_REPORTS, Alert, NewWork
from app.core.policy_document import DEFAULT_CRITICAL_AT, DEFAULT_WARN_AT
from app.core.policy_view import PolicyView
from app.incident_worker import IncidentDesk
from app.jobs import PERSISTENT, register, services
from app.run_export import queue_export

log = logging.getLogger("symphony.thresholds")

BUDGET_ALERTS = {"warning": "BudgetWarning", "critical": "BudgetCritical"}
EXPORT_INTERVAL_S = 300


@dataclass(frozen=True)
class Crossing:
    """A model past one of its budget thresholds on a budget day."""

    model: str
    level: str
    threshold: float
    fraction: float
    usd: float
    cap: float
    day: str

    @property
    def key(self) -> str:
        """What makes it once per model, level and day."""
        return f"budget:{self.model}:{self.day}:{self.level}"

    def alert(self, timezone: str, runbook_base: str) -> Alert:
        """The incident's alert (Symphony's own, not Prometheus')."""
        fingerprint = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        labels = {
            "alertname": BUDGET_ALERTS[self.level],
            "severity": self.level,
            "model": self.model,
            "day": self.day,
            "source": "symphony",
        }
        annotations = {
            "summary": f"A model has spent {self.threshold:.0%} of its daily USD cap.",
            "description": (
                f"{self.model} has spent ${self.usd:.2f} of its ${self.cap:.2f} daily cap"
                f" ({self.fraction:.1%}) on {self.day} ({timezone}). At 100% the policy denies"
                " it with budget_exhausted and routes to fallbacks."
            ),
            "runbook_url": f"{runbook_base}/runbooks.md#"
            + ("budget-at-95" if self.level == "critical" else "budget-at-80"),
        }
        return Alert(fingerprint, FIRING, labels, annotations, f"{self.day}T00:00:00")


def thresholds(document: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """(warn_at, critical_at) of every model with a daily USD cap."""
    found = {}
    for model in document.get("models", []):
        if model.get("daily_usd_cap"):
            alerts = model.get("budget_alerts") or {}
            found[model["name"]] = (
                float(alerts.get("warn_at", DEFAULT_WARN_AT)),
                float(alerts.get("critical_at", DEFAULT_CRITICAL_AT)),
            )
    return found


def crossings(view: PolicyView, spent: Mapping[str, float], day: str) -> list[Crossing]:
    """Every threshold each capped model has reached on `day` (warning, then critical)."""
    found = []
    for model, (warn_at, critical_at) in thresholds(view.document).items():
        cap = view.models[model].daily_usd_cap or 0.0
        usd = spent.get(model, 0.0)
        fraction = usd / cap if cap else 0.0
        for level, threshold in (("warning", warn_at), ("critical", critical_at)):
            if fraction >= threshold:
                found.append(Crossing(model, level, threshold, fraction, usd, cap, day))
    return found


class BudgetWatch:
    """Raises budget alerts and resolves the previous days' (one run per call)."""

    def __init__(
        self,
        policy: Callable[[], PolicyView],
        counters: CounterStore,
        desk: IncidentDesk,
        clock: Callable[[], float] = time.time,
        runbook_base: str = "http://127.0.0.1:8787/docs",
    ) -> None:
        self._runbook_base = runbook_base
        self._policy = policy
        self._counters = counters
        self._desk = desk
        self._clock = clock

    def run(self) -> list[Crossing]:
        """Check every capped model now; the crossings this call raised."""
        view = self._policy()
        now = self._clock()
        day = budget_day(now, view.timezone)
        store: SqlIncidents = self._desk.store
        for incident in store.open_incidents(BUDGET_ALERTS.values()):
            if incident.labels.get("day") != day:  # a new budget day: spend starts at zero
                ended = datetime.fromtimestamp(now, UTC).isoformat()
                alert = Alert(
                    incident.fingerprint, RESOLVED, incident.labels, incident.annotations, "", ended
                )
                self._desk.receive(alert)
        capped = list(thresholds(view.document))
        if not capped:
            return []
        usage = self._counters.usage(capped, now, day)
        spent = {model: usage[model].usd_today for model in capped if model in usage}
        raised = []
        for crossing in crossings(view, spent, day):
            if not store.mark_once(crossing.key):
                continue  # raised already today, by this proxy or another
            self._desk.receive(crossing.alert(view.timezone, self._runbook_base))
            raised.append(crossing)
            log.info(
                "budget %s for %s: %.1f%% of the daily cap",
                crossing.level,
                crossing.model,
                crossing.fraction * 100,
            )
        return raised


def prune_records(engine: sa.Engine, now: datetime, days: float) -> dict[str, int]:
    """Delete run reports, decision records and finished work older than `days`."""
    if days <= 0:
        return {}
    before = now - timedelta(days=days)
    deleted = {}
    with engine.begin() as conn:
        deleted["run_reports"] = conn.execute(
            sa.delete(run_reports).where(run_reports.c.created_at < before)
        ).rowcount
        deleted["decision_records"] = conn.execute(
            sa.delete(decision_records).where(decision_records.c.at < before)
        ).rowcount
        deleted["outbound_work"] = conn.execute(
            sa.delete(outbound_work)
            .where(outbound_work.c.status != "pending")
            .where(outbound_work.c.updated_at < before)
        ).rowcount
    return deleted


def previous_day_window(now: float, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of yesterday in `timezone`, as UTC times (23, 24 or 25 hours long)."""
    zone = ZoneInfo(timezone)
    today = datetime.fromtimestamp(now, zone).date()
    start = datetime.combine(today - timedelta(days=1), datetime.min.time(), zone)
    end = datetime.combine(today, datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# ---- the scheduled functions (stored by name in the job table) -----------------------------


def check_budgets() -> None:
    """Every minute: budget thresholds and the day's reset."""
    found = services()
    runbook_base = found.settings.incidents.runbook_base
    BudgetWatch(
        found.policies.current, found.counters, found.incidents, runbook_base=runbook_base
    ).run()


def retain_records() -> None:
    """Daily: delete what is older than SYMPHONY_RECORD_RETENTION_DAYS."""
    found = services()
    days = found.settings.incidents.record_retention_days
    if not found.incidents.store.mark_once(f"retention:{datetime.now(UTC).date()}"):
        return
    deleted = prune_records(found.database, datetime.now(UTC), days)
    log.info("retention (%g days): deleted %s", days, deleted)


def export_run_reports() -> None:
    """Every 5 minutes: queue the last window's run reports for GitHub."""
    found = services()
    if found.settings.incidents.github_run_reports == "on" and found.settings.github.enabled:
        queue_export(found.incidents.store, datetime.now(UTC), EXPORT_INTERVAL_S)


def nightly_export() -> None:
    """00:15 local (SYMPHONY_GITHUB_RUN_REPORTS=nightly): queue the whole previous day."""
    found = services()
    if not (
        found.settings.incidents.github_run_reports == "nightly" and found.settings.github.enabled
    ):
        return
    start, end = previous_day_window(time.time(), found.policies.current().timezone)
    payload = {"since": start.isoformat(), "until": end.isoformat()}
    found.incidents.store.enqueue(
        None,
        [NewWork(RUN_REPORTS, REPORTS, payload)],
        dedupe_key=f"reports-nightly:{start.date().isoformat()}",
    )


@register
def schedule(scheduler: BackgroundScheduler, found: Services) -> None:
    """Add the threshold jobs to the database job store (replacing older definitions)."""
    zone = found.policies.current().timezone
    jobs: list[tuple[str, str, dict[str, Any]]] = [
        (
            "budget_thresholds",
            "app.thresholds:check_budgets",
            {"trigger": "interval", "seconds": 60},
        ),
        (
            "record_retention",
            "app.thresholds:retain_records",
            {"trigger": "cron", "hour": 3, "minute": 30, "timezone": zone},
        ),
        (
            "run_report_export",
            "app.thresholds:export_run_reports",
            {"trigger": "interval", "seconds": EXPORT_INTERVAL_S},
        ),
        (
            "run_report_nightly",
            "app.thresholds:nightly_export",
            {"trigger": "cron", "hour": 0, "minute": 15, "timezone": zone},
        ),
    ]
    for job_id, function, trigger in jobs:
        scheduler.add_job(
            function, id=job_id, jobstore=PERSISTENT, replace_existing=True, **trigger
        )
