"""Run reports in the SQL store, keyed by audit id."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.tables import run_reports
from app.core.counters import budget_day
from app.core.execution import RunStoreUnavailable

log = logging.getLogger("symphony.runs")

AUDIT_ID = re.compile(r"^run_(\d{8}T\d{6}Z)_[0-9a-f]{12}$")


def _created_at(audit_id: str) -> datetime:
    match = AUDIT_ID.match(audit_id)
    if not match:
        raise ValueError(f"malformed audit id {audit_id!r}")
    stamp = match.group(1)  # YYYYmmddTHHMMSSZ (strptime is ten times slower)
    return datetime(
        int(stamp[0:4]),
        int(stamp[4:6]),
        int(stamp[6:8]),
        int(stamp[9:11]),
        int(stamp[11:13]),
        int(stamp[13:15]),
        tzinfo=UTC,
    )


class RunReportNotStored(RunStoreUnavailable):
    """The store is not committing run reports: too many wait, or the oldest waited too long."""


class _Pending:
    """A queued report, built the first time the writer (or a read) needs it; the builder
    (which holds the whole run, the upstream's answer included) is let go once it has."""

    __slots__ = ("_build", "_report", "queued")

    def __init__(self, build: Callable[[], dict[str, Any]], queued: float) -> None:
        self._build: Callable[[], dict[str, Any]] | None = build
        self._report: dict[str, Any] | None = None
        self.queued = queued  # time.monotonic() when queued

    def report(self) -> dict[str, Any]:
        """The report (built once; building twice from two threads gives the same one)."""
        build = self._build  # read first: it is let go only after the report is kept
        report = self._report
        if report is None:
            assert build is not None
            report = self._report = build()
            self._build = None
        return report


def _row(audit_id: str, report: dict[str, Any]) -> dict[str, Any]:
    return {
        "audit_id": audit_id,
        "created_at": _created_at(audit_id),
        "body": json.dumps(report, ensure_ascii=False, allow_nan=False),
    }


class SqlRunReports:
    """Run reports, committed by group right after the answer.

    append() queues the report and returns; one writer thread commits everything queued, in
    one transaction, at most once per GATHER_S (N concurrent runs cost one commit, one fsync
    on PostgreSQL, and the commit is off the request path). The window: a
    report is in the store one commit after its answer; a proxy killed in between loses the
    reports of the runs it answered during the last commit or two (measured with kill -9
    under load: tests/integration/test_crash_durability.py, README "Durability"). Reads on
    this proxy see its queued reports at once.

    If the store stops committing, the reports wait in memory and are written again with
    backoff; once MAX_QUEUED wait, or the oldest has waited STALL_S, `admit()` refuses new
    runs (503 `run_store_unavailable`) until the store catches up, so the window stays
    bounded and no run is answered whose report has nowhere to go. A report the store
    refuses on its own (a malformed row) is logged and dropped, not retried forever."""

    # A transaction of MAX_BATCH reports holds the event loop ~1 ms (256 held it ~9 ms); a
    # backlog (after an outage, or a burst above a batch per GATHER_S) is written a batch
    # at a time with PAUSE_S between two, so requests run in between.
    MAX_BATCH = 32
    PAUSE_S = 0.001
    MAX_QUEUED = 4096
    STALL_S = 5.0
    RETRY_MAX_S = 2.0
    # A commit (SQLAlchemy and SQLite/PostgreSQL, ~0.3 ms) holds the event loop; one per
    # 25 ms instead of 5 ms is a fifth of them at any load (c=1 /v1 p50 -0.03 to -0.15 ms,
    # A/B side by side), for a window of a few tens of ms more.
    GATHER_S = 0.025

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._queue: dict[str, _Pending] = {}  # audit id -> report, in arrival order
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None
        self._insert = sa.insert(run_reports)
        self.dropped = 0

    def append(self, audit_id: str, report: Callable[[], dict[str, Any]]) -> None:
        """Queue a run's report for the next commit (the writer starts with the first one).
        The report is built by the writer, off the request path: `report` must give the
        same report whenever it is called."""
        pending = _Pending(report, time.monotonic())
        # The queue's length read without the lock (one read of a dict's size): whether a
        # batch is waiting is a hint, and the lock is taken once below for the insert.
        if len(self._queue) >= self.MAX_BATCH:
            # The store is behind (an outage, a backlog): the report is built now, so what
            # waits in memory is reports, not whole runs with their answers. One that cannot
            # be built is the writer's to log and drop, as when it is built there.
            with contextlib.suppress(Exception):
                pending.report()
        with self._wake:
            self._queue[audit_id] = pending
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_forever, name="run-reports", daemon=True
                )
                self._writer.start()
            self._wake.notify()

    def admit(self) -> None:
        """Refuse a new run (RunReportNotStored) while the store is not taking reports."""
        with self._wake:
            if not self._queue:
                return
            waiting = len(self._queue)
            oldest = next(iter(self._queue.values())).queued
        if waiting >= self.MAX_QUEUED:
            raise RunReportNotStored(f"{waiting} run reports are waiting for the store")
        if time.monotonic() - oldest > self.STALL_S:
            raise RunReportNotStored(f"no run report committed for {self.STALL_S:g} s")

    def waiting(self) -> int:
        """Reports queued and not yet committed."""
        with self._wake:
            return len(self._queue)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every report queued now is committed (False if not within timeout_s)."""
        deadline = time.monotonic() + timeout_s
        with self._wake:
            wanted = set(self._queue)
            while wanted & self._queue.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def _write_forever(self) -> None:
        failures = 0
        last = 0.0
        gap = self.GATHER_S
        while True:
            # At most one commit per GATHER_S: under load each commit takes every report
            # answered meanwhile (a few ms of runs), not one apiece; a backlog goes on after
            # PAUSE_S.
            time.sleep(max(0.0, last + gap - time.monotonic()))
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                batch = list(itertools.islice(self._queue.items(), self.MAX_BATCH))
                backlog = len(self._queue) > len(batch)
            last = time.monotonic()
            gap = self.PAUSE_S if backlog else self.GATHER_S
            written = self._write(batch)
            with self._wake:
                for audit_id in written:
                    self._queue.pop(audit_id, None)
                self._wake.notify_all()
            if len(written) < len(batch):
                failures += 1
                time.sleep(min(self.RETRY_MAX_S, 0.05 * 2 ** min(failures, 6)))
            else:
                failures = 0

    def _write(self, batch: list[tuple[str, _Pending]]) -> list[str]:
        """Commit a batch in one transaction, else report by report. Returns the ids done
        with: committed, or refused by the store (or JSON) for themselves and dropped."""
        rows: list[dict[str, Any]] = []
        done: list[str] = []
        for audit_id, pending in batch:
            try:
                rows.append(_row(audit_id, pending.report()))
            except Exception as exc:  # a report that cannot be built or encoded: not retried
                done.append(self._drop(audit_id, exc))
        try:
            self._commit(rows)
            return done + [row["audit_id"] for row in rows]
        except sa.exc.OperationalError as exc:  # the store is down: keep them all, retry
            return done + self._unavailable(exc)
        except sa.exc.SQLAlchemyError:
            pass  # a report the store refuses: find it, commit the others
        for row in rows:
            try:
                self._commit([row])
            except sa.exc.OperationalError as exc:
                return done + self._unavailable(exc)
            except sa.exc.SQLAlchemyError as exc:
                done.append(self._drop(row["audit_id"], exc))
            else:
                done.append(row["audit_id"])
        return done

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._engine.begin() as conn:
                conn.execute(self._insert, rows)

    def _drop(self, audit_id: str, exc: Exception) -> str:
        self.dropped += 1
        log.error("run report %s cannot be stored (%s); dropped", audit_id, type(exc).__name__)
        return audit_id

    @staticmethod
    def _unavailable(exc: Exception) -> list[str]:
        log.warning("the store is not taking run reports (%s); retrying", type(exc).__name__)
        return []

    def get(self, audit_id: str) -> dict[str, Any] | None:
        """A stored report, or None."""
        if not self.well_formed(audit_id):
            return None
        with self._wake:
            queued = self._queue.get(audit_id)
        if queued is not None:
            copied: dict[str, Any] = json.loads(json.dumps(queued.report()))
            return copied
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
