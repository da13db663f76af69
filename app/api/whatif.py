"""What a policy change would do, before it is made: simulation over recorded decisions, and a
shadow revision evaluated beside live traffic (never enforced), promoted or dropped in one
call."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from app.api.access import principal, requires
from app.api.body import json_object
from app.api.context import audit, request_id, services
from app.api.errors import ApiError
from app.api.params import reject_unknown_fields, timestamp
from app.api.policy import if_match, write_revision
from app.core.identity import Role
from app.core.policy_service import Author, PolicyRejected, RevisionNotFound
from app.core.records import RecordQuery, simulate
from app.core.revisions import Revision
from app.core.validation import FieldError

bp = Blueprint("whatif", __name__)

MAX_SIMULATED = 10_000
DEFAULT_WINDOW = timedelta(hours=24)


def _rejected(exc: PolicyRejected) -> ApiError:
    return ApiError(
        422,
        "policy_invalid",
        f"{len(exc.errors) + len(exc.problems)} error(s) in the candidate; nothing simulated",
        extra={"errors": exc.as_dicts()},
    )


def _candidate(body: dict[str, Any]) -> Revision:
    policies = services().policies
    if "revision" in body:
        number = body["revision"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ApiError(
                400,
                "invalid_request",
                "$.revision: a revision number",
                [FieldError("$.revision", "must be an integer >= 1")],
            )
        try:
            return policies.revision(number)
        except RevisionNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
    guards = body.get("guards")
    if guards is not None and (
        not isinstance(guards, dict) or not all(isinstance(v, str) for v in guards.values())
    ):
        raise ApiError(
            400,
            "invalid_request",
            "$.guards: maps guard names to Rego sources",
            [FieldError("$.guards", "must map guard names to Rego sources")],
        )
    try:
        return policies.candidate(body.get("document"), guards)
    except PolicyRejected as exc:
        raise _rejected(exc) from exc


@bp.post("/policy/simulate")
@requires(Role.GOVERNOR)
def simulate_policy() -> ResponseReturnValue:
    """Evaluate recorded decisions (default: the last 24 h, up to 10,000) under a candidate
    (`document` and/or `guards`, or a `revision` number); nothing is activated."""
    body = json_object()
    reject_unknown_fields(body, {"document", "guards", "revision", "since", "until", "limit"})
    limit = body.get("limit", MAX_SIMULATED)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_SIMULATED:
        raise ApiError(
            400,
            "invalid_request",
            f"$.limit: 1 to {MAX_SIMULATED}",
            [FieldError("$.limit", f"must be an integer from 1 to {MAX_SIMULATED}")],
        )
    until = timestamp(body["until"], "$.until") if "until" in body else datetime.now(UTC)
    since = timestamp(body["since"], "$.since") if "since" in body else until - DEFAULT_WINDOW
    if since >= until:
        raise ApiError(
            400,
            "invalid_request",
            "$.since: must be before until",
            [FieldError("$.since", "must be before $.until")],
        )
    candidate = _candidate(body)
    started = time.perf_counter()
    recorded = services().records.query(RecordQuery(since=since, until=until, limit=limit))
    decided = services().evaluator.decisions(candidate, [r.input for r in recorded])
    result = simulate(recorded, decided, (until - since).total_seconds())
    return jsonify(
        {
            **result.as_dict(),
            "candidate": {
                "revision": candidate.number or None,
                "hash": candidate.hash,
            },
            "window": {
                "since": since.isoformat(timespec="seconds"),
                "until": until.isoformat(timespec="seconds"),
            },
            "elapsed_s": round(time.perf_counter() - started, 3),
        }
    )


def _shadow_state() -> dict[str, Any]:
    current = services().shadow.current()
    if current is None:
        return {"revision": None, "since": None, "evaluated": 0, "disagreements": 0, "rate": 0.0}
    stats = services().shadow.stats(int(current["revision"]))
    rate = stats["disagreements"] / stats["evaluated"] if stats["evaluated"] else 0.0
    return {**current, **stats, "rate": round(rate, 6)}


@bp.get("/policy/shadow")
@requires(Role.GOVERNOR)
def get_shadow() -> ResponseReturnValue:
    """The shadow revision and how often it disagrees with the enforced decisions."""
    return jsonify(_shadow_state())


@bp.put("/policy/shadow")
@requires(Role.GOVERNOR)
def put_shadow() -> ResponseReturnValue:
    """`{"revision": n}`: evaluate live traffic under revision n too, never enforcing it."""
    body = json_object()
    number = body.get("revision")
    if set(body) != {"revision"} or not isinstance(number, int) or isinstance(number, bool):
        raise ApiError(
            400,
            "invalid_request",
            "$.revision: a revision number (and nothing else)",
            [FieldError("$.revision", "must be an integer >= 1")],
        )
    try:
        services().policies.revision(number)
    except RevisionNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    before = services().shadow.current()
    services().shadow.set(number, principal().name)
    audit(
        "policy.shadow",
        f"shadow revision {number}",
        None,
        None,
        {"revision": number, "replaced": before["revision"] if before else None},
    )
    return jsonify(_shadow_state())


@bp.delete("/policy/shadow")
@requires(Role.GOVERNOR)
def drop_shadow() -> ResponseReturnValue:
    """Stop shadow evaluation (its results stay)."""
    before = services().shadow.current()
    services().shadow.set(None, principal().name)
    audit(
        "policy.shadow", "shadow dropped", None, None, {"revision": before and before["revision"]}
    )
    return jsonify(_shadow_state())


@bp.post("/policy/shadow/promote")
@requires(Role.GOVERNOR)
def promote_shadow() -> ResponseReturnValue:
    """Make the shadow revision the active one (a new revision with its content; If-Match)."""
    current = services().shadow.current()
    if current is None:
        raise ApiError(409, "no_shadow", "no shadow revision to promote")
    number = int(current["revision"])
    tag = if_match()
    author = Author(principal().name, request_id(), f"promoted shadow revision {number}")
    response = write_revision(
        lambda: services().policies.rollback(number, tag, author),
        "policy.shadow.promote",
        f"shadow revision {number}",
    )
    services().shadow.set(None, principal().name)
    return response
