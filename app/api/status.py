"""Operational status: real health probes and budget burndown."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.context import services
from app.core.identity import Role

bp = Blueprint("status", __name__)


@bp.get("/status/health.json")
@requires(Role.PUBLIC)
def health() -> ResponseReturnValue:
    """Probes of OPA, the stores and every model's upstream; 503 when routing is impossible."""
    body, status = services().monitor.health()
    return jsonify(body), status


@bp.get("/status/burndown.json")
@requires(Role.OPERATOR)
def burndown() -> ResponseReturnValue:
    """Budget burn per model over 1m/1h/1d and the runway to each cap."""
    return jsonify(services().monitor.burndown())
