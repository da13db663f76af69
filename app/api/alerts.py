"""POST /alerts/alertmanager (Alertmanager's webhook), GET /incidents, and the runbooks the
alerts link to (GET /docs/runbooks.md, the default `runbook_base`).

The receiver only writes to the store (incidents and the work they imply) and answers: GitHub,
Jira and Alertmanager are called later by the incident worker, never on this request.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.body import json_object
from app.api.context import services
from app.api.errors import ApiError
from app.api.params import reject_unknown_parameters
from app.core.identity import Role
from app.core.incidents import InvalidNotification, parse_notification
from app.core.validation import FieldError
from app.settings import PROJECT_ROOT

bp = Blueprint("alerts", __name__)

STATES = {"open": "firing", "resolved": "resolved", "all": None}


@bp.post("/alerts/alertmanager")
@requires(Role.ALERTMANAGER)
def alertmanager_webhook() -> ResponseReturnValue:
    """Store each alert of an Alertmanager notification (webhook version 4)."""
    body = json_object()
    try:
        alerts = parse_notification(body)
    except InvalidNotification as exc:
        raise ApiError(400, "invalid_request", exc.errors[0].message, exc.errors) from None
    desk = services().incidents
    results = []
    for alert in alerts:
        incident, opened = desk.receive(alert)
        results.append(
            {
                "fingerprint": alert.fingerprint,
                "status": alert.status,
                "incident": incident.id if incident else None,
                "opened": opened,
            }
        )
    return jsonify({"received": len(alerts), "alerts": results})


@bp.get("/incidents")
@requires(Role.OPERATOR)
def list_incidents() -> ResponseReturnValue:
    """Incidents, newest first: ?state=open|resolved|all (default open), ?limit=1..500."""
    reject_unknown_parameters(request.args, {"state", "limit"})
    state = request.args.get("state", "open")
    if state not in STATES:
        raise ApiError(
            400,
            "invalid_request",
            "state must be open, resolved or all",
            [FieldError("state", "must be open, resolved or all")],
        )
    raw_limit = request.args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 500:
        raise ApiError(
            400,
            "invalid_request",
            "limit must be an integer from 1 to 500",
            [FieldError("limit", "must be an integer from 1 to 500")],
        )
    desk = services().incidents
    found = desk.store.recent(STATES[state], int(raw_limit))
    return jsonify(
        {
            "incidents": [incident.as_dict() for incident in found],
            "targets": list(desk.targets),
            "pending_work": desk.store.pending_count(),
        }
    )


@bp.get("/docs/runbooks.md")
@requires(Role.PUBLIC)
def runbooks() -> ResponseReturnValue:
    """The game-day runbooks (Markdown) every alert's runbook_url points into by default."""
    text = (PROJECT_ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    return Response(text, mimetype="text/markdown")
