"""Run reports in the SQL store, keyed by audit id."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.tables import run_reports
from app.core.counters import budget_day

AUDIT_ID = re.compile(r"^run_(\d{8}T\d{6}Z)_[0-9a-f]{12}$")


def _created_at(audit_id: str) -> datetime:
    match = AUDIT_ID.match(audit_id)
    if not match:
        raise ValueError(f"malformed audit id {audit_id!r}")
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


class SqlRunReports:
    """Each report is committed before append() returns."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def append(self, report: dict[str, Any]) -> None:
        """Store a report durably."""
        audit_id = str(report["audit_id"])
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(run_reports).values(
                    audit_id=audit_id,
                    created_at=_created_at(audit_id),
                    body=json.dumps(report, ensure_ascii=False, allow_nan=False),
                )
            )

    def get(self, audit_id: str) -> dict[str, Any] | None:
        """A stored report, or None."""
        if not self.well_formed(audit_id):
            return None
        with self._engine.connect() as conn:
            body = conn.execute(
                sa.select(run_reports.c.body).where(run_reports.c.audit_id == audit_id)
            ).scalar()
        if body is None:
            return None
        loaded: dict[str, Any] = json.loads(body)
        return loaded

    def spent_on(self, day: str, timezone: str) -> dict[str, tuple[float, int]]:
        """Each model's (dollars, tokens) of the served runs of budget day `day` (in
        `timezone`): what rebuilds budgets when the counter store lost them."""
        since = datetime.now(UTC) - timedelta(hours=50)
        with self._engine.connect() as conn:
            bodies = conn.execute(
                sa.select(run_reports.c.body).where(run_reports.c.created_at >= since)
            ).scalars()
            spent: dict[str, tuple[float, int]] = {}
            for body in bodies:
                report = json.loads(body)
                model, at = report.get("model"), report.get("at")
                if report.get("status") != "ok" or not model or not at:
                    continue
                moment = datetime.fromisoformat(str(at)).timestamp()
                if budget_day(moment, timezone) != day:
                    continue
                usage = report.get("usage") or {}
                usd, tokens = spent.get(model, (0.0, 0))
                spent[model] = (
                    usd + float(report.get("cost_usd") or 0.0),
                    tokens + int(usage.get("total_tokens") or 0),
                )
        return spent

    def import_folder(self, folder: Path) -> int:
        """Carry over the JSON files of the old file store (<data>/runs/<day>/<id>.json),
        skipping reports already stored; returns how many were added."""
        if not folder.is_dir():
            return 0
        added = 0
        with self._engine.begin() as conn:
            known = set(conn.execute(sa.select(run_reports.c.audit_id)).scalars())
            for path in sorted(folder.glob("*/run_*.json")):
                if path.stem in known or not self.well_formed(path.stem):
                    continue
                report = json.loads(path.read_text(encoding="utf-8"))
                conn.execute(
                    sa.insert(run_reports).values(
                        audit_id=path.stem,
                        created_at=_created_at(path.stem),
                        body=json.dumps(report, ensure_ascii=False),
                    )
                )
                added += 1
        return added

    @staticmethod
    def well_formed(audit_id: str) -> bool:
        """Whether `audit_id` has the shape Symphony issues."""
        return AUDIT_ID.match(audit_id) is not None
