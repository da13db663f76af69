"""Incidents and the durable outbound work queue in the store.

Every proxy of a fleet shares these tables. Two rules keep them from doing anything twice:
- an alert has at most one open incident: `incidents.open_key` (the fingerprint while open,
  NULL once resolved) is unique, so of two proxies receiving the same alert one inserts and
  the other sees a repeat;
- a piece of work is claimed with a lease before it runs: `SELECT ... FOR UPDATE SKIP LOCKED`
  on PostgreSQL, one conditional UPDATE on SQLite (which takes the write lock first). Work of
  one incident and target is claimed in queue order only (a comment never overtakes its
  ticket).
A lease that ends (a proxy died mid-call) makes the work claimable again: a call can repeat
after a crash, never be lost; opening a ticket first looks for one already filed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.revisions import utc
from app.adapters.sql.tables import incident_marks, incidents, outbound_work
from app.core.incidents import FIRING, RESOLVED, Alert, Incident, NewWork, Work

PENDING = "pending"
DONE = "done"
FAILED = "failed"


def _now() -> datetime:
    return datetime.now(UTC)


def _incident(row: Any, pending: int = 0, failed: int = 0) -> Incident:
    return Incident(
        id=row.id,
        fingerprint=row.fingerprint,
        alertname=row.alertname,
        severity=row.severity,
        model=row.model,
        state=row.state,
        labels=json.loads(row.labels),
        annotations=json.loads(row.annotations),
        notifications=row.notifications,
        github_number=row.github_number,
        github_url=row.github_url,
        jira_key=row.jira_key,
        jira_url=row.jira_url,
        silence_id=row.silence_id,
        last_event=row.last_event,
        last_event_at=utc(row.last_event_at) if row.last_event_at else None,
        opened_at=utc(row.opened_at) if row.opened_at else None,
        resolved_at=utc(row.resolved_at) if row.resolved_at else None,
        problem=row.problem,
        pending=pending,
        failed=failed,
    )


def _rows(
    incident_id: int | None,
    work: Sequence[NewWork],
    dedupe_key: str | None,
    not_before: datetime | None,
) -> list[dict[str, Any]]:
    """outbound_work rows for `work`, pending now (or from `not_before`); the first carries
    `dedupe_key`."""
    now = _now()
    return [
        {
            "kind": item.kind,
            "target": item.target,
            "incident_id": incident_id,
            "payload": json.dumps(dict(item.payload)),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": not_before or now,
            "dedupe_key": dedupe_key if index == 0 else None,
            "created_at": now,
            "updated_at": now,
        }
        for index, item in enumerate(work)
    ]


class SqlIncidents:
    """Incidents by alert fingerprint, and the queue of outbound work."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # ---- incidents ---------------------------------------------------------------------------

    def _work_rows(self, conn: sa.Connection, incident_id: int, work: Iterable[NewWork]) -> None:
        rows = _rows(incident_id, list(work), None, None)
        if rows:
            conn.execute(sa.insert(outbound_work), rows)

    def receive(self, alert: Alert, plan: Any) -> tuple[Incident | None, bool]:
        """Record one alert of a notification and queue the work `plan(opened)` returns.

        Returns (incident, opened); (None, False) when a resolved alert has no open incident
        (or another proxy resolved it first). One transaction: the incident and its work are
        stored together or not at all.
        """
        for attempt in range(2):
            try:
                return self._receive(alert, plan)
            except sa.exc.IntegrityError:
                # Another proxy opened it a moment ago: try again, as a repeat.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _receive(self, alert: Alert, plan: Any) -> tuple[Incident | None, bool]:
        now = _now()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(incidents).where(incidents.c.open_key == alert.fingerprint)
            ).first()
            if row is None and alert.status == RESOLVED:
                return None, False
            if row is None:
                incident_id = conn.execute(
                    sa.insert(incidents).values(
                        fingerprint=alert.fingerprint,
                        open_key=alert.fingerprint,
                        alertname=alert.name[:128],
                        severity=alert.severity[:32],
                        model=(alert.model or "")[:128] or None,
                        state=FIRING,
                        labels=json.dumps(dict(alert.labels)),
                        annotations=json.dumps(dict(alert.annotations)),
                        notifications=1,
                        last_event="firing: ticket work queued",
                        last_event_at=now,
                        opened_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                self._work_rows(conn, int(incident_id), plan(True))
                created = conn.execute(
                    sa.select(incidents).where(incidents.c.id == incident_id)
                ).one()
                return _incident(created), True
            values: dict[str, Any] = {"last_event_at": now}
            if alert.status == RESOLVED:
                values.update(
                    open_key=None,
                    state=RESOLVED,
                    resolved_at=now,
                    last_event="resolved: closing tickets",
                )
            else:
                values.update(
                    notifications=incidents.c.notifications + 1,
                    last_event="firing again: comment queued",
                )
            changed = conn.execute(
                sa.update(incidents)
                .where(incidents.c.id == row.id)
                .where(incidents.c.open_key.is_not(None))
                .values(**values)
            )
            if changed.rowcount != 1:
                return None, False  # resolved by another proxy in the meantime
            self._work_rows(conn, row.id, plan(False))
            updated = conn.execute(sa.select(incidents).where(incidents.c.id == row.id)).one()
            return _incident(updated), False

    def get(self, incident_id: int) -> Incident | None:
        """One incident."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return _incident(row) if row else None

    def recent(self, state: str | None = None, limit: int = 100) -> list[Incident]:
        """Incidents, newest first, with their pending and failed work counts."""
        query = sa.select(incidents).order_by(incidents.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(incidents.c.state == state)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [row.id for row in rows]
            counts: dict[tuple[int, str], int] = {}
            if ids:
                for incident_id, status, count in conn.execute(
                    sa.select(
                        outbound_work.c.incident_id,
                        outbound_work.c.status,
                        sa.func.count(),
                    )
                    .where(outbound_work.c.incident_id.in_(ids))
                    .where(outbound_work.c.status.in_((PENDING, FAILED)))
                    .group_by(outbound_work.c.incident_id, outbound_work.c.status)
                ):
                    counts[(incident_id, status)] = count
        return [
            _incident(row, counts.get((row.id, PENDING), 0), counts.get((row.id, FAILED), 0))
            for row in rows
        ]

    def open_silenced(self) -> list[Incident]:
        """Open incidents that hold a silence (their resolution may never be notified)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(incidents)
                .where(incidents.c.open_key.is_not(None))
                .where(incidents.c.silence_id.is_not(None))
            ).all()
        return [_incident(row) for row in rows]

    def update(self, incident_id: int, event: str, **values: Any) -> None:
        """Set ticket ids, the silence, the problem; `event` becomes the last event."""
        allowed = {"github_number", "github_url", "jira_key", "jira_url", "silence_id", "problem"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)}")
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(incidents)
                .where(incidents.c.id == incident_id)
                .values(last_event=event[:256], last_event_at=_now(), **values)
            )

    # ---- the work queue ------------------------------------------------------------------------

    def enqueue(
        self,
        incident_id: int | None,
        work: Sequence[NewWork],
        dedupe_key: str | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Queue work; False when `dedupe_key` was queued before (by any proxy)."""
        rows = _rows(incident_id, work, dedupe_key, not_before)
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(outbound_work), rows)
        except sa.exc.IntegrityError:
            return False
        return True

    def _claimable(self, now: datetime) -> sa.Select[Any]:
        earlier = outbound_work.alias("earlier")
        blocked = (
            sa.select(earlier.c.id)
            .where(earlier.c.incident_id == outbound_work.c.incident_id)
            .where(earlier.c.target == outbound_work.c.target)
            .where(earlier.c.status == PENDING)
            .where(earlier.c.id < outbound_work.c.id)
        )
        return (
            sa.select(outbound_work.c.id)
            .where(outbound_work.c.status == PENDING)
            .where(outbound_work.c.next_attempt_at <= now)
            .where(sa.or_(outbound_work.c.lease_until.is_(None), outbound_work.c.lease_until < now))
            .where(sa.or_(outbound_work.c.incident_id.is_(None), ~sa.exists(blocked)))
            .order_by(outbound_work.c.id)
        )

    def claim(self, worker: str, limit: int, lease_s: float) -> list[Work]:
        """Lease up to `limit` due pieces of work to `worker`; nobody else gets them."""
        now = _now()
        until = now + timedelta(seconds=lease_s)
        lease = {"lease_until": until, "leased_by": worker[:64], "updated_at": now}
        claimed: list[int] = []
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                ids = list(
                    conn.execute(
                        self._claimable(now).limit(limit).with_for_update(skip_locked=True)
                    ).scalars()
                )
                if ids:
                    conn.execute(
                        sa.update(outbound_work).where(outbound_work.c.id.in_(ids)).values(**lease)
                    )
                claimed = ids
            else:
                # One statement, so SQLite takes its write lock first (a read-then-write
                # transaction could not upgrade its lock while another proxy writes).
                taken = conn.execute(
                    sa.update(outbound_work)
                    .where(outbound_work.c.id.in_(self._claimable(now).limit(limit)))
                    .values(**lease)
                )
                if taken.rowcount:
                    claimed = list(
                        conn.execute(
                            sa.select(outbound_work.c.id)
                            .where(outbound_work.c.leased_by == worker[:64])
                            .where(outbound_work.c.lease_until == until)
                        ).scalars()
                    )
            if not claimed:
                return []
            rows = conn.execute(
                sa.select(outbound_work)
                .where(outbound_work.c.id.in_(claimed))
                .order_by(outbound_work.c.id)
            ).all()
        return [
            Work(
                row.id, row.kind, row.target, row.incident_id, json.loads(row.payload), row.attempts
            )
            for row in rows
        ]

    def _finish(self, work_id: int, worker: str, values: Mapping[str, Any]) -> bool:
        with self._engine.begin() as conn:
            done = conn.execute(
                sa.update(outbound_work)
                .where(outbound_work.c.id == work_id)
                .where(outbound_work.c.leased_by == worker[:64])
                .values(lease_until=None, leased_by=None, updated_at=_now(), **values)
            )
        return bool(done.rowcount == 1)

    def done(self, work_id: int, worker: str) -> bool:
        """Mark claimed work done."""
        return self._finish(work_id, worker, {"status": DONE, "last_error": None})

    def retry(self, work_id: int, worker: str, attempts: int, at: datetime, error: str) -> bool:
        """Release claimed work to be tried again at `at`."""
        values = {"attempts": attempts, "next_attempt_at": at, "last_error": error[:2000]}
        return self._finish(work_id, worker, values)

    def defer(self, work_id: int, worker: str, at: datetime) -> bool:
        """Release claimed work untried (another step must happen first)."""
        return self._finish(work_id, worker, {"next_attempt_at": at})

    def fail(self, work_id: int, worker: str, attempts: int, error: str) -> bool:
        """Give claimed work up for good."""
        values = {"status": FAILED, "attempts": attempts, "last_error": error[:2000]}
        return self._finish(work_id, worker, values)

    def work(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        """The queue (one incident's, or all), oldest first, for operators and tests."""
        query = sa.select(outbound_work).order_by(outbound_work.c.id)
        if incident_id is not None:
            query = query.where(outbound_work.c.incident_id == incident_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": row.id,
                "kind": row.kind,
                "target": row.target,
                "incident_id": row.incident_id,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": utc(row.next_attempt_at).isoformat(timespec="seconds"),
                "last_error": row.last_error,
            }
            for row in rows
        ]

    def mark_once(self, key: str) -> bool:
        """True for the one caller (of the whole fleet) that sets `key` first."""
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(incident_marks).values(key=key[:191], created_at=_now()))
        except sa.exc.IntegrityError:
            return False
        return True

    def open_incidents(self, alertnames: Iterable[str]) -> list[Incident]:
        """Open incidents of these alert names."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(incidents)
                .where(incidents.c.open_key.is_not(None))
                .where(incidents.c.alertname.in_(list(alertnames)))
            ).all()
        return [_incident(row) for row in rows]

    def pending_count(self) -> int:
        """Pending pieces of work."""
        with self._engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(outbound_work.c.status == PENDING)
            ).scalar()
        return int(count or 0)

    def prune(self, before: datetime) -> int:
        """Delete finished work older than `before`."""
        with self._engine.begin() as conn:
            gone = conn.execute(
                sa.delete(outbound_work)
                .where(outbound_work.c.status != PENDING)
                .where(outbound_work.c.updated_at < before)
            )
        return int(gone.rowcount or 0)
