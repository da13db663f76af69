"""Policy revisions in the SQL store; activation is one compare-and-swap transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.tables import policy_active, policy_revisions
from app.core.revisions import ActivePointer, Draft, Revision, StaleRevision, canonical_json


def utc(value: datetime) -> datetime:
    """Every stored time is UTC: SQLite hands back naive datetimes, PostgreSQL aware ones in
    the session's zone. Writes convert with it too (SQLite drops the offset unconverted)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _revision(row: sa.Row[Any]) -> Revision:
    return Revision(
        number=row.number,
        hash=row.hash,
        document=json.loads(row.document),
        guards=json.loads(row.guards),
        tests=json.loads(row.tests),
        created_by=row.created_by,
        created_at=utc(row.created_at),
        request_id=row.request_id,
        reason=row.reason,
        source=row.source,
        parent=row.parent,
    )


class SqlRevisionStore:
    """RevisionStore over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def active(self) -> ActivePointer | None:
        """The active pointer."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(policy_active).where(policy_active.c.id == 1)
            ).one_or_none()
        if row is None:
            return None
        return ActivePointer(row.revision, utc(row.activated_at), row.activated_by)

    def get(self, number: int) -> Revision | None:
        """One revision."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(policy_revisions).where(policy_revisions.c.number == number)
            ).one_or_none()
        return None if row is None else _revision(row)

    def listing(self, limit: int, before: int | None) -> list[Revision]:
        """Newest first."""
        query = sa.select(policy_revisions).order_by(policy_revisions.c.number.desc())
        if before is not None:
            query = query.where(policy_revisions.c.number < before)
        with self._engine.connect() as conn:
            return [_revision(row) for row in conn.execute(query.limit(limit))]

    def activate_new(self, draft: Draft, expected: int | None, now: datetime) -> Revision:
        """Insert the next revision and move the pointer, only if it still names `expected`."""
        try:
            with self._engine.begin() as conn:
                # Writing the pointer first takes its row lock (PostgreSQL) or the database's
                # write lock (SQLite), so concurrent writers are serialised right here.
                if expected is None:
                    if conn.execute(sa.select(policy_active.c.id)).first() is not None:
                        raise StaleRevision("a revision is already active")
                else:
                    claimed = conn.execute(
                        sa.update(policy_active)
                        .where(policy_active.c.id == 1, policy_active.c.revision == expected)
                        .values(activated_by=draft.created_by[:128])
                    )
                    if claimed.rowcount != 1:
                        raise StaleRevision(f"revision {expected} is no longer active")
                latest = conn.execute(sa.select(sa.func.max(policy_revisions.c.number))).scalar()
                revision = Revision(
                    number=(latest or 0) + 1,
                    hash=draft.hash,
                    document=draft.document,
                    guards=dict(draft.guards),
                    tests=dict(draft.tests),
                    created_by=draft.created_by[:128],
                    created_at=now,
                    request_id=draft.request_id[:128],
                    reason=draft.reason,
                    source=draft.source,
                    parent=draft.parent,
                )
                conn.execute(sa.insert(policy_revisions).values(**_row(revision)))
                pointer = {
                    "revision": revision.number,
                    "activated_at": utc(now),
                    "activated_by": revision.created_by,
                }
                if expected is None:
                    conn.execute(sa.insert(policy_active).values(id=1, **pointer))
                else:
                    conn.execute(
                        sa.update(policy_active).where(policy_active.c.id == 1).values(**pointer)
                    )
                return revision
        except sa.exc.IntegrityError as exc:
            # Two first activations raced (both saw no pointer): the loser is stale.
            raise StaleRevision("another writer activated a revision first") from exc

    def import_revision(self, revision: Revision, activate: bool) -> None:
        """Insert a carried-over revision with its number (once: an interrupted import can be
        run again); optionally point at it."""
        with self._engine.begin() as conn:
            present = conn.execute(
                sa.select(policy_revisions.c.number).where(
                    policy_revisions.c.number == revision.number
                )
            ).first()
            if present is None:
                conn.execute(sa.insert(policy_revisions).values(**_row(revision)))
            if activate:
                conn.execute(sa.delete(policy_active))
                conn.execute(
                    sa.insert(policy_active).values(
                        id=1,
                        revision=revision.number,
                        activated_at=utc(revision.created_at),
                        activated_by=revision.created_by,
                    )
                )


def _row(revision: Revision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "hash": revision.hash,
        "document": canonical_json(revision.document),
        "guards": canonical_json(dict(revision.guards)),
        "tests": canonical_json(dict(revision.tests)),
        "created_by": revision.created_by,
        "created_at": utc(revision.created_at),
        "request_id": revision.request_id,
        "reason": revision.reason,
        "source": revision.source,
        "parent": revision.parent,
    }
