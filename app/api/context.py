"""Access to the wired services from inside a request."""

from __future__ import annotations

import uuid

from flask import current_app, request

from app.bootstrap import Services


def services() -> Services:
    """The Services wired by the application factory."""
    found: Services = current_app.extensions["symphony"]
    return found


def request_id() -> str:
    """The caller's X-Request-Id, or a fresh one."""
    given = request.headers.get("X-Request-Id", "").strip()
    return given[:128] if given else uuid.uuid4().hex


def actor() -> str:
    """Who is making a change (X-Symphony-Actor), for the audit trail."""
    return request.headers.get("X-Symphony-Actor", "").strip()[:128] or "api"
