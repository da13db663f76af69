"""Decision records over HTTP: list, read, and replay a decision under the revision that made
it (with OPA's trace), which is how the dashboard explains the decision on screen."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.context import services
from app.api.errors import ApiError
from app.api.params import integer_parameter, reject_unknown_parameters, timestamp
from app.core.identity import Role
from app.core.policy_service import RevisionNotFound
from app.core.records import DecisionRecord, RecordQuery, differences
from app.core.revisions import Revision
from app.core.validation import FieldError

bp = Blueprint("decisions", __name__)

MAX_PAGE = 500
FILTERS = ("model", "rule", "denial", "revision", "source")


def _query() -> RecordQuery:
    args = request.args
    reject_unknown_parameters(args, {*FILTERS, "since", "until", "limit", "before"})
    limit = integer_parameter("limit", 100, 1, MAX_PAGE)
    filters = {name: (args.get(name) or None) for name in FILTERS}
    return RecordQuery(
        **{k: v[:128] if v else None for k, v in filters.items()},
        since=timestamp(args["since"], "?since") if args.get("since") else None,
        until=timestamp(args["until"], "?until") if args.get("until") else None,
        before=(args.get("before") or None),
        limit=limit,
    )


def record_of(decision_id: str) -> DecisionRecord:
    """The record, or 404."""
    found = services().records.get(decision_id[:64])
    if found is None:
        raise ApiError(
            404,
            "not_found",
            f"no decision {decision_id[:64]!r} (records are written within a second)",
        )
    return found


def revision_of(record: DecisionRecord) -> Revision:
    """The revision a record was decided under, or 409 when it is unknown."""
    try:
        if record.revision_number is None:
            raise RevisionNotFound("the decision names no revision")
        return services().policies.revision(record.revision_number)
    except RevisionNotFound as exc:
        raise ApiError(409, "revision_unknown", f"cannot replay: {exc}") from exc


@bp.get("/decisions")
@requires(Role.OPERATOR)
def list_decisions() -> ResponseReturnValue:
    """Decision records, newest first (filters: model, rule, denial, revision, source,
    since, until; pages: limit, before=<decision_id>)."""
    query = _query()
    found = services().records.query(query)
    next_before = found[-1].decision_id if len(found) == query.limit else None
    return jsonify({"decisions": [r.summary() for r in found], "next_before": next_before})


@bp.get("/decisions/<decision_id>")
@requires(Role.OPERATOR)
def get_decision(decision_id: str) -> ResponseReturnValue:
    """One decision: the exact OPA input, the result, the revision, the source."""
    return jsonify(record_of(decision_id).as_dict())


@bp.post("/decisions/<decision_id>/replay")
@requires(Role.OPERATOR)
def replay(decision_id: str) -> ResponseReturnValue:
    """Re-evaluate the recorded input under the recorded revision; says whether the result
    equals the recorded one (it must: a difference is counted as a bug)."""
    mode = request.args.get("explain", "notes")
    if mode not in ("off", "notes", "full"):
        raise ApiError(
            400,
            "invalid_request",
            "explain must be one of off, notes, full",
            [FieldError("?explain", f"unknown mode {mode[:32]!r}")],
        )
    record = record_of(decision_id)
    revision = revision_of(record)
    evaluator = services().evaluator
    trace: list[str] = []
    if mode == "off":
        replayed = evaluator.decisions(revision, [record.input])[0]
    else:
        replayed, trace = evaluator.explain(revision, record.input, mode)
    found = differences(dict(record.result), replayed)
    if found:
        services().metrics.replay_mismatch()
    return jsonify(
        {
            "decision_id": record.decision_id,
            "revision": record.revision,
            "decision": replayed,
            "recorded": dict(record.result),
            "equal": not found,
            "differences": found,
            "explain": {"reasons": replayed.get("reasons", []), "trace": trace},
        }
    )
