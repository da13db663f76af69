"""The audit trail: every state change, with who, what, when and hashes before and after."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


def state_hash(state: Any) -> str:
    """A stable hash of a JSON-able state, for an audit event's before/after."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEvent:
    """One state change (or login) in the audit trail."""

    kind: str
    actor: str
    subject: str | None = None
    request_id: str | None = None
    before_hash: str | None = None
    after_hash: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None
    at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat(timespec="milliseconds") if self.at else None,
            "actor": self.actor,
            "kind": self.kind,
            "subject": self.subject,
            "request_id": self.request_id,
            "before_hash": self.before_hash,
            "after_hash": self.after_hash,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class AuditQuery:
    """A page of the audit trail, newest first."""

    actor: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


class AuditLog(Protocol):
    """The durable audit trail."""

    def record(self, event: AuditEvent) -> AuditEvent:
        """Store an event; returns it with its id and time."""
        ...

    def events(self, query: AuditQuery) -> list[AuditEvent]:
        """Events matching `query`, newest first."""
        ...
