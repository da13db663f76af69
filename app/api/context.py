"""Access to the wired services from inside a request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import current_app, g, request

from app.bootstrap import Services
from app.core.audit import AuditEvent


def services() -> Services:
    """The Services wired by the application factory."""
    found: Services = current_app.extensions["symphony"]
    return found


def request_id() -> str:
    """The caller's X-Request-Id, or a fresh one (the same for the whole request)."""
    found: str | None = g.get("request_id")
    if found is None:
        given = request.headers.get("X-Request-Id", "").strip()
        found = given[:128] if given else uuid.uuid4().hex
        g.request_id = found
    return found


def audit(
    kind: str,
    subject: str | None,
    before_hash: str | None,
    after_hash: str | None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent:
    """Record a state change made by this request's caller in the audit trail."""
    from app.api.access import principal

    event = AuditEvent(
        kind,
        actor or principal().name,
        subject,
        request_id(),
        before_hash,
        after_hash,
        dict(detail or {}),
    )
    return services().audit.record(event)
