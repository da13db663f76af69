"""The policy document: read, validate, replace (versioned), history; and the kill switch."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.api.body import json_body, json_object
from app.api.context import actor, request_id, services
from app.api.errors import ApiError
from app.core.policy_service import PolicyRejected
from app.core.ports import PolicyEngineUnavailable
from app.core.validation import FieldError

bp = Blueprint("policy", __name__)


@bp.get("/policy")
def get_policy() -> ResponseReturnValue:
    """The active document with its revision metadata."""
    policies = services().policies
    return jsonify({**policies.current_summary(), "document": policies.current().document})


@bp.post("/policy/validate")
def validate_policy() -> ResponseReturnValue:
    """Every error in a candidate document, as (JSON path, message); nothing is stored."""
    errors = services().policies.validate(json_body())
    return jsonify({"valid": not errors, "errors": [e.as_dict() for e in errors]})


@bp.put("/policy")
def put_policy() -> ResponseReturnValue:
    """Validate, push to OPA and store a new revision; an invalid document changes nothing."""
    document = json_body()
    try:
        view = services().policies.replace(document, actor(), request_id())
    except PolicyRejected as exc:
        raise ApiError(
            422, "policy_invalid", f"{len(exc.errors)} error(s) in the policy", exc.errors
        ) from exc
    except PolicyEngineUnavailable as exc:
        raise ApiError(
            503,
            "policy_engine_unavailable",
            "OPA did not accept the policy; the previous version stays active",
            extra={"detail": str(exc)},
        ) from exc
    return jsonify({**services().policies.current_summary(), "document": view.document})


@bp.get("/policy/history")
def policy_history() -> ResponseReturnValue:
    """Every stored revision's metadata, newest first."""
    return jsonify({"versions": services().policies.history()})


@bp.get("/controls/kill-switch")
def get_kill_switch() -> ResponseReturnValue:
    """Whether the kill switch is on, and who set it."""
    return jsonify(services().controls.state())


@bp.put("/controls/kill-switch")
def put_kill_switch() -> ResponseReturnValue:
    """Turn the kill switch on or off: `{"on": true}`."""
    body = json_object()
    unknown = sorted(set(body) - {"on"})
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            f"$.{unknown[0]}: unknown field",
            [FieldError(f"$.{name}", "unknown field") for name in unknown],
        )
    on = body.get("on")
    if not isinstance(on, bool):
        raise ApiError(
            400,
            "invalid_request",
            "$.on: must be true or false",
            [FieldError("$.on", "must be a boolean")],
        )
    state = services().controls.set_kill_switch(on, actor())
    services().bus.publish({"type": "kill_switch", **state})
    return jsonify(state)
