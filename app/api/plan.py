"""POST /route/plan: a decision and its explanation, nothing executed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import principal, requires
from app.api.body import json_object
from app.api.context import services
from app.api.errors import ApiError, engine_unavailable, invalid_body
from app.core.identity import Role
from app.core.ports import PolicyEngineUnavailable
from app.core.route_request import InvalidRequest, RouteRequest
from app.core.router import EXPLAIN_MODES, Plan
from app.core.validation import FieldError

bp = Blueprint("plan", __name__)


def explain_mode(default: str | None = None) -> str:
    """The `?explain=` mode, defaulting to `default` or the configured one."""
    mode = request.args.get("explain", default or services().settings.explain_default)
    if mode not in EXPLAIN_MODES:
        raise ApiError(
            400,
            "invalid_request",
            f"explain must be one of {', '.join(EXPLAIN_MODES)}",
            [FieldError("?explain", f"unknown mode {mode[:32]!r}")],
        )
    return mode


def parse_route_request(body: dict[str, Any]) -> RouteRequest:
    """Validate a routing body or answer 400 naming the fields."""
    try:
        return services().requests.parse(body, principal().as_input())
    except InvalidRequest as exc:
        raise invalid_body(exc.errors) from exc


def decide(route_request: RouteRequest, explain: str) -> Plan:
    """Ask the policy engine; fail closed with 503 when it cannot answer."""
    try:
        return services().router.plan(route_request, explain)
    except PolicyEngineUnavailable as exc:
        raise engine_unavailable(exc) from exc


def plan_body(plan: Plan) -> dict[str, Any]:
    """The JSON answer of /route/plan."""
    return {
        "decision": plan.decision.as_dict(),
        "explain": plan.explain(),
        "decision_id": plan.decision_id,
        "policy_version": plan.policy.revision,
    }


@bp.post("/route/plan")
@requires(Role.CLIENT)
def route_plan() -> ResponseReturnValue:
    """Decide and explain, without calling any model."""
    mode = explain_mode()
    route_request = parse_route_request(json_object())
    plan = decide(route_request, mode)
    services().telemetry.decided(plan, "plan", None)
    return jsonify(plan_body(plan))
