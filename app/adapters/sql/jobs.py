"""Deferred jobs in the store (`deferred_jobs`, migration 0007), shared by every proxy.

A job is claimed by one proxy at a time: candidates are read with `SELECT ... FOR UPDATE SKIP
LOCKED` on PostgreSQL (other proxies skip rows being claimed instead of waiting), and every
claim is a conditional UPDATE whose rowcount says whether this proxy won (on SQLite, where the
database file serialises writers, that alone is enough). A claim carries a lease: a job whose
proxy died mid-run is claimed again once the lease has passed, so a restart loses nothing.
Times are epoch seconds from the caller's clock (the router's), so a fixed clock drives them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.tables import deferred_jobs
from app.core.deferred import CANCELLED, QUEUED, RUNNING, Job, JobQuery, iso


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        state=row.state,
        owner=row.owner,
        request=json.loads(row.request),
        created_at=row.created_at,
        deadline=row.deadline,
        planned_start=row.planned_start,
        planned_model=row.planned_model,
        reasons=json.loads(row.reasons),
        decisions=json.loads(row.decisions),
        attempts=json.loads(row.attempts),
        audit_id=row.audit_id,
        result=json.loads(row.result) if row.result else None,
        started_at=row.started_at,
        finished_at=row.finished_at,
        callback_url=row.callback_url,
        callback_state=row.callback_state,
        callback_attempts=row.callback_attempts or 0,
    )


class SqlJobs:
    """The deferred-job repository."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, job: Job, opening_at: float | None) -> None:
        """Store a new job."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(deferred_jobs).values(
                    id=job.id,
                    state=job.state,
                    owner=job.owner[:128],
                    planned_model=job.planned_model,
                    opening_at=opening_at,
                    created_at=job.created_at,
                    planned_start=job.planned_start,
                    deadline=job.deadline,
                    request=json.dumps(job.request),
                    reasons=json.dumps(job.reasons),
                    decisions=json.dumps(job.decisions),
                    attempts=json.dumps(job.attempts),
                    callback_url=job.callback_url,
                    callback_attempts=0,
                )
            )

    def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(deferred_jobs).where(deferred_jobs.c.id == job_id)).first()
        return None if row is None else _job(row)

    def query(self, query: JobQuery) -> list[Job]:
        """Jobs matching `query`, newest first."""
        table = deferred_jobs
        statement = sa.select(table).order_by(table.c.seq.desc()).limit(query.limit)
        if query.state:
            statement = statement.where(table.c.state == query.state)
        if query.model:
            statement = statement.where(table.c.planned_model == query.model)
        if query.owner is not None:
            statement = statement.where(table.c.owner == query.owner)
        if query.since is not None:
            statement = statement.where(table.c.created_at >= query.since)
        if query.until is not None:
            statement = statement.where(table.c.created_at < query.until)
        if query.before:
            anchor = sa.select(table.c.seq).where(table.c.id == query.before).scalar_subquery()
            statement = statement.where(table.c.seq < anchor)
        with self._engine.connect() as conn:
            return [_job(row) for row in conn.execute(statement)]

    def slots_taken(self, model: str, opening_at: float) -> int:
        """How many jobs are already released at this opening of `model` (for spacing)."""
        table = deferred_jobs
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(sa.func.count()).where(
                    table.c.planned_model == model,
                    table.c.opening_at == opening_at,
                    table.c.state != CANCELLED,
                )
            ).scalar_one()
        return int(found)

    def cancel(self, job_id: str, now: float) -> bool:
        """Cancel a queued job; False when it is not queued (any more)."""
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(deferred_jobs)
                .where(deferred_jobs.c.id == job_id, deferred_jobs.c.state == QUEUED)
                .values(state=CANCELLED, finished_at=now)
            )
        return updated.rowcount == 1

    def claim_due(self, now: float, limit: int, lease_s: float, holder: str) -> list[Job]:
        """Claim up to `limit` jobs due at `now` (queued and planned, or running with a lapsed
        lease) for `holder`, each won by exactly one proxy."""
        if limit <= 0:
            return []
        table = deferred_jobs
        due = sa.or_(
            sa.and_(table.c.state == QUEUED, table.c.planned_start <= now),
            sa.and_(table.c.state == RUNNING, table.c.lease_until < now),
        )
        claimed: list[Job] = []
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.state, table.c.lease_owner)
                .where(due)
                .order_by(table.c.planned_start, table.c.seq)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                updated = conn.execute(
                    sa.update(table)
                    .where(table.c.id == row.id, table.c.state == row.state, due)
                    .values(state=RUNNING, lease_until=now + lease_s, lease_owner=holder)
                )
                if updated.rowcount == 1:
                    found = conn.execute(sa.select(table).where(table.c.id == row.id)).one()
                    job = _job(found)
                    if row.state == RUNNING:
                        # Its proxy stopped mid-run: the run is tried again under a new lease.
                        job.attempts.append(
                            {"at": iso(now), "outcome": "lease_expired", "holder": row.lease_owner}
                        )
                    claimed.append(job)
        return claimed

    def save(self, job: Job, holder: str, opening_at: float | None = None, **extra: Any) -> bool:
        """Write a claimed job back (requeued, finished); False when `holder` lost its lease."""
        table = deferred_jobs
        values: dict[str, Any] = {
            "state": job.state,
            "planned_start": job.planned_start,
            "planned_model": job.planned_model,
            "reasons": json.dumps(job.reasons),
            "decisions": json.dumps(job.decisions),
            "attempts": json.dumps(job.attempts),
            "result": json.dumps(job.result) if job.result is not None else None,
            "audit_id": job.audit_id,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "request": json.dumps(job.request),
            "callback_state": job.callback_state,
            **extra,
        }
        if job.state == QUEUED:
            values.update(lease_until=None, lease_owner=None, opening_at=opening_at)
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(table)
                .where(
                    table.c.id == job.id, table.c.lease_owner == holder, table.c.state == RUNNING
                )
                .values(**values)
            )
        return updated.rowcount == 1

    def counts(self) -> dict[str, int]:
        """Jobs by state."""
        table = deferred_jobs
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.state, sa.func.count()).group_by(table.c.state)
            ).all()
        return {str(state): int(count) for state, count in rows}

    def waiting(self) -> dict[str, dict[str, Any]]:
        """Per model: queued jobs waiting for it and the next planned start."""
        table = deferred_jobs
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    table.c.planned_model, sa.func.count(), sa.func.min(table.c.planned_start)
                )
                .where(table.c.state == QUEUED)
                .group_by(table.c.planned_model)
            ).all()
        return {
            str(model): {"queued": int(count), "next_planned_start": first}
            for model, count, first in rows
            if model is not None
        }

    def next_planned(self) -> float | None:
        """The soonest planned start of a queued job."""
        table = deferred_jobs
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(sa.func.min(table.c.planned_start)).where(table.c.state == QUEUED)
            ).scalar_one()
        return None if found is None else float(found)

    # ---- callbacks ----------------------------------------------------------------------

    def claim_callbacks(self, now: float, limit: int, lease_s: float) -> list[Job]:
        """Claim up to `limit` callbacks due at `now` (pending, or sending with a lapsed
        lease): `callback_next_at` moves past the lease, so no other proxy sends it meanwhile."""
        table = deferred_jobs
        due = sa.and_(table.c.callback_state == "pending", table.c.callback_next_at <= now)
        claimed: list[Job] = []
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.callback_next_at)
                .where(due)
                .order_by(table.c.callback_next_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                updated = conn.execute(
                    sa.update(table)
                    .where(table.c.id == row.id, table.c.callback_next_at == row.callback_next_at)
                    .where(due)
                    .values(callback_next_at=now + lease_s)
                )
                if updated.rowcount == 1:
                    claimed.append(
                        _job(conn.execute(sa.select(table).where(table.c.id == row.id)).one())
                    )
        return claimed

    def callback_outcome(
        self, job_id: str, state: str, attempts: int, next_at: float | None
    ) -> None:
        """Record a delivery attempt: `delivered`, `pending` (retried at next_at), `failed`."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(deferred_jobs)
                .where(deferred_jobs.c.id == job_id)
                .values(callback_state=state, callback_attempts=attempts, callback_next_at=next_at)
            )

    def raw(self, job_id: str) -> Mapping[str, Any] | None:
        """The stored row (for diagnostics and tests of the lease)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(deferred_jobs).where(deferred_jobs.c.id == job_id)).first()
        return None if row is None else dict(row._mapping)
