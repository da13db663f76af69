"""POST /route/execute: decide, call the chosen model (with fallbacks), count and report."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.body import json_object
from app.api.context import services
from app.api.errors import engine_unavailable, json_error
from app.api.jobs import defer_or_none, deferral_of
from app.api.plan import explain_mode, parse_route_request
from app.core.execution import ExecutionResult, Executor, Run
from app.core.identity import Role
from app.core.ports import Delta, PolicyEngineUnavailable
from app.core.route_request import RouteRequest

bp = Blueprint("execute", __name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def begin_run(route_request: RouteRequest, explain: str, source: str) -> Run:
    """Decide for an execution; 503 when the policy engine cannot answer."""
    try:
        return services().executor.begin(route_request, explain, source)
    except PolicyEngineUnavailable as exc:
        raise engine_unavailable(exc) from exc


def wants_stream(route_request: RouteRequest, run: Run) -> bool:
    """Stream when the client asks and the winning rule does not forbid it."""
    route = run.plan.decision.route
    return bool(route_request.stream) and (route is None or route.stream)


def texts(stream: Generator[Delta, None, ExecutionResult]) -> Generator[str, None, ExecutionResult]:
    """The text of a stream's chunks, skipping chunks that add none; closing it closes the
    stream (which stops the upstream call)."""
    try:
        while True:
            try:
                delta = next(stream)
            except StopIteration as stop:
                result: ExecutionResult = stop.value
                return result
            if delta.text:
                yield delta.text
    finally:
        stream.close()


def first_chunk(stream: Generator[Any, None, ExecutionResult]) -> tuple[Any, Any]:
    """Run the stream until its first chunk (fallbacks happen here) or its end."""
    try:
        return next(stream), None
    except StopIteration as stop:
        return None, stop.value


def sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def failure_response(result: ExecutionResult) -> tuple[Response, int]:
    """502 with every attempt when no candidate answered; 429 when capacity ran out first."""
    if result.status == "denied":
        return json_error(
            429,
            result.error or "no_model_available",
            "no candidate had capacity left when the call was admitted",
            extra={
                "audit_id": result.run.audit_id,
                "attempts": [a.as_dict() for a in result.attempts],
            },
        )
    return json_error(
        502,
        result.error or "all_attempts_failed",
        "no candidate model answered",
        extra={"audit_id": result.run.audit_id, "attempts": [a.as_dict() for a in result.attempts]},
    )


def denial_response(result: ExecutionResult) -> tuple[Response, int]:
    """403 (governance) or 429 (capacity) with the decision."""
    plan = result.run.plan
    return json_error(
        plan.decision.http_status,
        plan.decision.denial or "denied",
        "the policy denied this request",
        extra={
            "audit_id": result.run.audit_id,
            "decision_id": plan.decision_id,
            "decision": plan.decision.as_dict(),
            "explain": plan.explain(),
        },
    )


def _event_stream(first: str, stream: Generator[str, None, ExecutionResult]) -> Iterator[str]:
    try:
        yield sse("chunk", {"text": first})
        while True:
            try:
                chunk = next(stream)
            except StopIteration as stop:
                result: ExecutionResult = stop.value
                break
            yield sse("chunk", {"text": chunk})
        yield sse("summary" if result.status == "ok" else "error", result.summary())
    finally:
        stream.close()


@bp.post("/route/execute")
@requires(Role.CLIENT)
def route_execute() -> ResponseReturnValue:
    """Execute a routed call; SSE when `stream` is true. With `defer: {until}`, a request
    refused for capacity alone is queued as a job instead (202, see app/api/jobs.py).

    The decision's reasons always come back; OPA's trace only on `?explain=notes|full`,
    because tracing costs far more than the evaluation itself on the hot path.
    """
    mode = explain_mode("off")
    payload = json_object()
    route_request = parse_route_request(payload)
    deferral = deferral_of(payload.get("defer"), "$.defer")
    executor: Executor = services().executor
    run = begin_run(route_request, mode, "execute")
    if not run.plan.decision.allow:
        deferred = defer_or_none(run.plan, deferral)
        if deferred is not None:
            return deferred
        return denial_response(executor.deny(run))
    headers = {"X-Symphony-Audit-Id": run.audit_id}
    if not wants_stream(route_request, run):
        result = executor.complete(run)
        response, status = (
            failure_response(result) if result.status != "ok" else (jsonify(result.summary()), 200)
        )
        response.headers.update(headers)
        return response, status
    stream = texts(executor.stream(run))
    chunk, ended = first_chunk(stream)
    if chunk is None:
        result = ended
        if result.status != "ok":
            return failure_response(result)
        body: Any = sse("summary", result.summary())
    else:
        body = _event_stream(chunk, stream)
    return Response(body, mimetype="text/event-stream", headers={**SSE_HEADERS, **headers})
