"""API keys, sessions and audit events in the SQL store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.revisions import utc
from app.adapters.sql.tables import api_keys, audit_events, sessions
from app.core.audit import AuditEvent, AuditQuery
from app.core.identity import ApiKey, Role


def _when(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        roles=tuple(Role(r) for r in json.loads(row.roles)),
        team=row.team,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        last_used_at=_when(row.last_used_at),
        expires_at=_when(row.expires_at),
        revoked_at=_when(row.revoked_at),
    )


class SqlKeyStore:
    """Keys by hash; sessions by the hash of their cookie."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, key: ApiKey, key_hash: str) -> None:
        """Store a new key."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(api_keys).values(
                    id=key.id,
                    key_hash=key_hash,
                    name=key.name,
                    roles=json.dumps([str(r) for r in key.roles]),
                    team=key.team,
                    created_at=key.created_at,
                    created_by=key.created_by[:128],
                    expires_at=key.expires_at,
                )
            )

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return _key(row) if row is not None else None

    def all_keys(self) -> list[ApiKey]:
        """Every key, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.id)
            ).all()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, by: str, at: datetime) -> ApiKey | None:
        """Mark a key revoked (the first revocation's time stays) and end its sessions."""
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=at, revoked_by=by[:128])
            )
            conn.execute(sa.delete(sessions).where(sessions.c.key_id == key_id))
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        return _key(row) if row is not None else None

    def touch(self, key_id: str, at: datetime) -> None:
        """Record a use."""
        with self._engine.begin() as conn:
            conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))

    def add_session(
        self, token_hash: str, key_id: str, csrf: str, at: datetime, ends: datetime
    ) -> None:
        """Store a session (and drop expired ones, so the table stays small)."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at < at))
            conn.execute(
                sa.insert(sessions).values(
                    token_hash=token_hash,
                    key_id=key_id,
                    csrf_token=csrf,
                    created_at=at,
                    expires_at=ends,
                )
            )

    def session(self, token_hash: str) -> tuple[ApiKey, str, datetime] | None:
        """(key, csrf token, expiry) of a session, or None."""
        query = (
            sa.select(api_keys, sessions.c.csrf_token, sessions.c.expires_at.label("ends"))
            .join(sessions, sessions.c.key_id == api_keys.c.id)
            .where(sessions.c.token_hash == token_hash)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return _key(row), row.csrf_token, utc(row.ends)

    def end_session(self, token_hash: str) -> None:
        """Forget a session."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.token_hash == token_hash))


class SqlAuditLog:
    """Append-only audit events."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def record(self, event: AuditEvent) -> AuditEvent:
        """Store an event; returns it with its id and time."""
        at = event.at or datetime.now(UTC)
        with self._engine.begin() as conn:
            result = conn.execute(
                sa.insert(audit_events).values(
                    at=at,
                    actor=event.actor[:128],
                    kind=event.kind[:64],
                    subject=(event.subject or None) and event.subject[:256],
                    request_id=(event.request_id or None) and event.request_id[:128],
                    before_hash=event.before_hash,
                    after_hash=event.after_hash,
                    detail=json.dumps(dict(event.detail), sort_keys=True, default=str),
                )
            )
            key = result.inserted_primary_key
        return AuditEvent(
            event.kind,
            event.actor,
            event.subject,
            event.request_id,
            event.before_hash,
            event.after_hash,
            event.detail,
            int(key[0]) if key else None,
            at,
        )

    def events(self, query: AuditQuery) -> list[AuditEvent]:
        """Events matching `query`, newest first."""
        select = sa.select(audit_events).order_by(audit_events.c.id.desc()).limit(query.limit)
        if query.actor:
            select = select.where(audit_events.c.actor == query.actor)
        if query.kind:
            select = select.where(audit_events.c.kind == query.kind)
        if query.since:
            select = select.where(audit_events.c.at >= query.since)
        if query.until:
            select = select.where(audit_events.c.at < query.until)
        if query.before is not None:
            select = select.where(audit_events.c.id < query.before)
        with self._engine.connect() as conn:
            rows = conn.execute(select).all()
        return [
            AuditEvent(
                row.kind,
                row.actor,
                row.subject,
                row.request_id,
                row.before_hash,
                row.after_hash,
                json.loads(row.detail),
                row.id,
                utc(row.at),
            )
            for row in rows
        ]
