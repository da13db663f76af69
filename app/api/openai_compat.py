"""The OpenAI-compatible front door: chat completions, legacy completions, embeddings and the
model list, routed by the policy; every error in OpenAI's shape (see app/api/errors.py).

The client's request goes upstream as it was sent (tools, stop, seed, response_format and any
field OpenAI adds later), with the routed model; the upstream's answer comes back as it was,
naming the model that served. See app/api/openai_wire.py for the mapping.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.body import json_body
from app.api.context import services
from app.api.errors import ApiError, invalid_body
from app.api.execute import SSE_HEADERS, begin_run, first_chunk
from app.api.jobs import defer_or_none, deferral_of
from app.api.openai_wire import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    ChunkStream,
    answer,
    extension,
    headers,
    to_route_request,
)
from app.core.execution import ExecutionResult
from app.core.identity import Role
from app.core.ports import Delta
from app.core.route_request import InvalidRequest

bp = Blueprint("openai", __name__, url_prefix="/v1")


def _route(endpoint: str) -> ResponseReturnValue:
    body = json_body()
    model = body.get("model") if isinstance(body, dict) else None
    known = services().policies.current().models
    if isinstance(model, str) and model != "auto" and model not in known:
        raise ApiError(
            404,
            "model_not_found",
            f"The model `{services().redactor.redact(model[:128])}` does not exist or you do "
            "not have access to it.",
            extra={"param": "model"},
        )
    try:
        route_request = to_route_request(body, endpoint)
    except InvalidRequest as exc:
        raise invalid_body(exc.errors) from exc
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    deferral = deferral_of(meta.get("symphony_defer"), "$.metadata.symphony_defer")
    run = begin_run(route_request, "off", "openai")
    executor = services().executor
    decision = run.plan.decision
    if not decision.allow:
        deferred = defer_or_none(run.plan, deferral)
        if deferred is not None:
            return deferred
        result = executor.deny(run)
        raise ApiError(
            decision.http_status,
            decision.denial or "denied",
            f"denied by policy: {decision.denial}",
            extra={
                "symphony": {
                    "decision": decision.as_dict(),
                    "decision_id": run.first_plan.decision_id,
                    "audit_id": result.run.audit_id,
                }
            },
            headers=headers(run, None),
        )
    if not route_request.stream:
        result = executor.complete(run)
        _raise_if_failed(result)
        response = jsonify(answer(result, endpoint))
        response.headers.update(headers(run, result.model))
        return response
    stream = executor.stream(run)
    delta, ended = first_chunk(stream)
    if ended is not None:
        _raise_if_failed(ended)
    serving = run.serving or decision.model or ""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    chunks = ChunkStream(run, serving, endpoint, include_usage)
    return Response(
        _sse(chunks, delta, stream, ended),
        mimetype="text/event-stream",
        headers={**SSE_HEADERS, **headers(run, serving)},
    )


def _raise_if_failed(result: ExecutionResult) -> None:
    if result.status == "ok":
        return
    capacity = result.status == "denied"
    raise ApiError(
        429 if capacity else 502,
        result.error or "all_attempts_failed",
        "no candidate had capacity left" if capacity else "no candidate model answered",
        extra={"symphony": extension(result)},
        headers=headers(result.run, None),
    )


def _sse(
    chunks: ChunkStream,
    first: Delta | None,
    stream: Generator[Delta, None, ExecutionResult],
    ended: ExecutionResult | None,
) -> Iterator[str]:
    try:
        if first is not None:
            yield chunks.chunk(first)
        result = ended
        while result is None:
            try:
                delta = next(stream)
            except StopIteration as stop:
                result = stop.value
                break
            yield chunks.chunk(delta)
        if result.status != "ok":
            failure = {
                "error": {
                    "message": "the upstream stream failed after it started",
                    "type": "api_error",
                    "param": None,
                    "code": result.error,
                }
            }
            yield ChunkStream._sse(failure)
            return
        yield from chunks.end(result)
    finally:
        stream.close()


@bp.post("/chat/completions")
@requires(Role.CLIENT)
def chat_completions() -> ResponseReturnValue:
    """OpenAI chat completions (tools, streaming, every standard field), routed by policy."""
    return _route(CHAT)


@bp.post("/completions")
@requires(Role.CLIENT)
def completions() -> ResponseReturnValue:
    """OpenAI legacy text completions, routed by policy and passed through."""
    return _route(COMPLETIONS)


@bp.post("/embeddings")
@requires(Role.CLIENT)
def embeddings() -> ResponseReturnValue:
    """OpenAI embeddings: task `embed`, served by models that offer `embeddings`."""
    return _route(EMBEDDINGS)


@bp.get("/models")
@requires(Role.CLIENT)
def list_models() -> ResponseReturnValue:
    """The policy's models plus `auto`, in OpenAI's list format."""
    policy = services().policies.current()
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "symphony"}]
    data += [
        {"id": name, "object": "model", "created": 0, "owned_by": spec.provider}
        for name, spec in policy.models.items()
    ]
    return jsonify({"object": "list", "data": data})


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@requires(Role.CLIENT)
def unknown(rest: str) -> Any:
    """Any other /v1 path: OpenAI's 404."""
    raise ApiError(
        404,
        "unknown_url",
        f"Invalid URL ({request.method} /v1/{rest[:200]})",
    )
