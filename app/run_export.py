"""Run reports to GitHub (SYMPHONY_GITHUB_RUN_REPORTS=on): batched, by the incident worker.

Every few minutes one proxy (a unique key per window in the work queue) queues the window's
export; the worker writes the window's reports as JSON lines to
`runs/<yyyy-mm-dd>/<first audit id>.jsonl` through the contents API: one commit per batch of
up to SYMPHONY_REPORT_BATCH reports, never one per run. A failure is retried like any other
work and never touches routing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.adapters.github import GitHubTracker
from app.adapters.sql.incidents import SqlIncidents
from app.adapters.sql.tables import run_reports
from app.core.incidents import REPORTS, RUN_REPORTS, NewWork


def window_of(now: datetime, interval_s: float) -> tuple[datetime, datetime]:
    """The last whole window of `interval_s` seconds before `now` (UTC)."""
    step = max(int(interval_s), 1)
    end = datetime.fromtimestamp(int(now.timestamp()) // step * step, UTC)
    return end - timedelta(seconds=step), end


def queue_export(store: SqlIncidents, now: datetime, interval_s: float) -> bool:
    """Queue the export of the last whole window, once for the whole fleet."""
    since, until = window_of(now, interval_s)
    payload = {"since": since.isoformat(), "until": until.isoformat()}
    return store.enqueue(
        None, [NewWork(RUN_REPORTS, REPORTS, payload)], dedupe_key=f"reports:{since.isoformat()}"
    )


class GitHubRunReports:
    """Writes a window of run reports to the repository, in batches."""

    def __init__(self, github: GitHubTracker, engine: sa.Engine, batch: int = 200) -> None:
        self._github = github
        self._engine = engine
        self._batch = max(batch, 1)

    def export(self, payload: Mapping[str, Any]) -> None:
        """Export the reports created in [since, until)."""
        since = datetime.fromisoformat(str(payload["since"]))
        until = datetime.fromisoformat(str(payload["until"]))
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(run_reports.c.audit_id, run_reports.c.created_at, run_reports.c.body)
                .where(run_reports.c.created_at >= since)
                .where(run_reports.c.created_at < until)
                .order_by(run_reports.c.audit_id)
            ).all()
        by_day: dict[str, list[Any]] = {}
        for row in rows:
            created = (
                row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            )
            by_day.setdefault(created.astimezone(UTC).date().isoformat(), []).append(row)
        for day, day_rows in sorted(by_day.items()):
            for start in range(0, len(day_rows), self._batch):
                chunk = day_rows[start : start + self._batch]
                lines = "".join(
                    json.dumps(json.loads(row.body), separators=(",", ":")) + "\n" for row in chunk
                )
                path = f"runs/{day}/{chunk[0].audit_id}.jsonl"
                self._github.put_file(path, lines, f"Run reports: {len(chunk)} runs from {day}")
