"""Operational status: real health probes and budget burndown."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.api.context import services

bp = Blueprint("status", __name__)


@bp.get("/status/health.json")
def health() -> ResponseReturnValue:
    """Probes of OPA, the gateway, the local model and the counter store; 503 when down."""
    body, status = services().monitor.health()
    return jsonify(body), status


@bp.get("/status/burndown.json")
def burndown() -> ResponseReturnValue:
    """Budget burn per model over 1m/1h/1d and the runway to each cap."""
    return jsonify(services().monitor.burndown())
