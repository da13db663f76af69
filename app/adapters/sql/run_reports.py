"""Run reports in the SQL store, keyed by audit id."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
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


class RunReportNotStored(RuntimeError):
    """The store did not commit a run report (it failed, or did not answer in time)."""


@dataclass
class _Pending:
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SqlRunReports:
    """Run reports, committed by group: append() queues the report and waits until the
    writer thread has committed it, with every other report queued meanwhile, in one
    transaction. A client is never answered for a run whose report a crash could lose (the
    window is zero), and N concurrent runs cost one commit (one fsync on PostgreSQL), not N.
    At most MAX_QUEUED reports wait at once; beyond, append() refuses at once."""

    MAX_BATCH = 256
    MAX_QUEUED = 4096
    WAIT_S = 10.0

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._queue: list[_Pending] = []
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None

    def append(self, report: dict[str, Any]) -> None:
        """Store a report durably; returns once it is committed (RunReportNotStored if not)."""
        audit_id = str(report["audit_id"])
        pending = _Pending(
            {
                "audit_id": audit_id,
                "created_at": _created_at(audit_id),
                "body": json.dumps(report, ensure_ascii=False, allow_nan=False),
            }
        )
        with self._wake:
            if len(self._queue) >= self.MAX_QUEUED:
                raise RunReportNotStored("too many run reports are waiting for the store")
            self._queue.append(pending)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_forever, name="run-reports", daemon=True
                )
                self._writer.start()
            self._wake.notify()
        if not pending.done.wait(self.WAIT_S):
            raise RunReportNotStored(f"the store did not commit {audit_id} in {self.WAIT_S:g} s")
        if pending.error is not None:
            raise RunReportNotStored(f"the store refused {audit_id}") from pending.error

    def _write_forever(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
            try:
                with self._engine.begin() as conn:
                    conn.execute(sa.insert(run_reports), [p.row for p in batch])
            except sa.exc.SQLAlchemyError as exc:
                if len(batch) > 1:  # one bad report must not fail the others
                    for pending in batch:
                        self._write_one(pending)
                    continue
                batch[0].error = exc
            for pending in batch:
                pending.done.set()

    def _write_one(self, pending: _Pending) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(run_reports), [pending.row])
        except sa.exc.SQLAlchemyError as exc:
            pending.error = exc
        pending.done.set()

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
