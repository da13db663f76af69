"""Deferred jobs over HTTP: how a refused-for-capacity request becomes a job (202), and
GET /jobs, GET /jobs/<id>, DELETE /jobs/<id>. A client sees and cancels only the jobs made
with its own key name; operators (and above) see and cancel every job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import principal, requires
from app.api.context import services
from app.api.errors import ApiError, json_error
from app.api.params import reject_unknown_fields, reject_unknown_parameters, timestamp
from app.core.deferred import (
    MAX_PAGE,
    STATES,
    Job,
    JobQuery,
    callback_host_allowed,
    deferrable,
    iso,
)
from app.core.identity import Role
from app.core.router import Plan
from app.core.validation import FieldError
from app.deferred_runner import DeadlineUnreachable

bp = Blueprint("jobs", __name__)

MAX_URL = 2048


@dataclass(frozen=True)
class Deferral:
    """What a client asked for with `defer`: a deadline and maybe a callback."""

    deadline: float
    callback_url: str | None


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {message}", [FieldError(field, message)])


def deferral_of(value: Any, field: str) -> Deferral | None:
    """The `defer` object of a request (None when absent), or a 400 naming the field."""
    if value is None:
        return None
    if isinstance(value, str):  # the OpenAI door: metadata values are strings
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _bad(field, 'must be a JSON object {"until": ..., "callback_url"?: ...}') from exc
    if not isinstance(value, dict):
        raise _bad(field, 'must be an object {"until": ..., "callback_url"?: ...}')
    reject_unknown_fields(value, {"until", "callback_url"})
    if "until" not in value:
        raise _bad(f"{field}.until", "required: the RFC 3339 deadline")
    until = timestamp(value["until"], f"{field}.until").timestamp()
    settings = services().settings
    now = services().router.now()
    if until <= now:
        raise _bad(f"{field}.until", "must be in the future")
    if until - now > settings.deferred_horizon_s:
        days = settings.deferred_horizon_s / 86400
        raise _bad(f"{field}.until", f"must be within {days:g} days")
    url = value.get("callback_url")
    if url is not None:
        if not isinstance(url, str) or not url or len(url) > MAX_URL:
            raise _bad(f"{field}.callback_url", f"must be a URL of at most {MAX_URL} characters")
        if not settings.callback_secret or not settings.callback_hosts:
            raise _bad(f"{field}.callback_url", "callbacks are not configured on this proxy")
        if not callback_host_allowed(url, settings.callback_hosts):
            raise _bad(f"{field}.callback_url", "must be http(s) to a host on the allowlist")
    return Deferral(until, url)


def defer_or_none(plan: Plan, deferral: Deferral | None) -> tuple[Response, int] | None:
    """The 202 answer when a denied request was asked to wait and may; the 429 when it could
    not start before its deadline; None when it is not deferrable (answered as before)."""
    if deferral is None or not deferrable(plan.decision):
        return None
    runner = services().deferred
    try:
        job = runner.defer(plan, principal().name, deferral.deadline, deferral.callback_url)
    except DeadlineUnreachable as exc:
        return json_error(
            429,
            plan.decision.denial or "no_model_available",
            "the policy allows this request no earlier than "
            f"{iso(exc.planned_start) or 'never'}, after the deadline",
            extra={
                "planned_start": iso(exc.planned_start),
                "decision_id": plan.decision_id,
                "decision": plan.decision.as_dict(),
            },
        )
    response = jsonify(
        {
            "job_id": job.id,
            "state": job.state,
            "planned_start": iso(job.planned_start),
            "planned_model": job.planned_model,
            "deadline": iso(job.deadline),
            "reasons": job.reasons,
            "decision_id": plan.decision_id,
        }
    )
    response.headers["Location"] = f"/jobs/{job.id}"
    return response, 202


def _sees_all() -> bool:
    return principal().has(Role.OPERATOR)


def _job(job_id: str) -> Job:
    job = services().deferred.jobs.get(job_id[:64])
    if job is None or (not _sees_all() and job.owner != principal().name):
        raise ApiError(404, "not_found", f"no job {job_id[:64]!r}")
    return job


def _query(everyone: bool) -> JobQuery:
    args = request.args
    reject_unknown_parameters(args, {"state", "model", "since", "until", "limit", "before"})
    raw_limit = args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise _bad("?limit", f"must be an integer from 1 to {MAX_PAGE}")
    state = args.get("state") or None
    if state is not None and state not in STATES:
        raise _bad("?state", f"must be one of {', '.join(STATES)}")
    return JobQuery(
        state=state,
        model=(args.get("model") or None),
        owner=None if everyone else principal().name,
        since=timestamp(args["since"], "?since").timestamp() if args.get("since") else None,
        until=timestamp(args["until"], "?until").timestamp() if args.get("until") else None,
        before=(args.get("before") or None),
        limit=int(raw_limit),
    )


def _page(everyone: bool) -> dict[str, Any]:
    query = _query(everyone)
    found = services().deferred.jobs.query(query)
    next_before = found[-1].id if len(found) == query.limit else None
    return {"jobs": [j.summary() for j in found], "next_before": next_before}


@bp.get("/jobs")
@requires(Role.CLIENT)
def list_jobs() -> ResponseReturnValue:
    """The caller's deferred jobs (everyone's for a caller who is also an operator), newest
    first (filters: state, model, since, until; pages: limit, before=<job_id>)."""
    return jsonify(_page(_sees_all()))


@bp.get("/status/queue.json")
@requires(Role.OPERATOR)
def queue_status() -> ResponseReturnValue:
    """The operators' view of the queue: everyone's jobs (the same filters and pages as GET
    /jobs), counts by state, and per model the work waiting with its next planned start."""
    store = services().deferred.jobs
    body = _page(everyone=True)
    body["counts"] = store.counts()
    body["waiting"] = {
        model: {**entry, "next_planned_start": iso(entry["next_planned_start"])}
        for model, entry in store.waiting().items()
    }
    return jsonify(body)


@bp.get("/jobs/<job_id>")
@requires(Role.CLIENT)
def get_job(job_id: str) -> ResponseReturnValue:
    """One job: state, planned start, every decision and attempt, the run's audit id."""
    return jsonify(_job(job_id).as_dict())


@bp.delete("/jobs/<job_id>")
@requires(Role.CLIENT)
def cancel_job(job_id: str) -> ResponseReturnValue:
    """Cancel a queued job; 409 when it is running or has ended."""
    job = _job(job_id)
    runner = services().deferred
    if not runner.jobs.cancel(job.id, services().router.now()):
        current = runner.jobs.get(job.id)
        state = current.state if current else job.state
        raise ApiError(
            409, "not_queued", f"job {job.id} is {state}: only a queued job can be cancelled"
        )
    cancelled = runner.jobs.get(job.id)
    assert cancelled is not None
    services().bus.publish({"type": "job", "job": cancelled.summary()})
    return jsonify(cancelled.as_dict())
