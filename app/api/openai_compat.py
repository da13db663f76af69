"""The OpenAI-compatible front door: /v1/chat/completions and /v1/models.

Symphony's context comes from `metadata` (`symphony_task`, `symphony_loa`, `symphony_risk`,
`symphony_tools` comma-separated) or the `X-Symphony-Task/-Loa/-Risk/-Tools` headers; without
any, a request is task `chat`, LoA 0, risk low.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.access import principal, requires
from app.api.body import json_body
from app.api.context import services
from app.api.errors import ApiError
from app.api.execute import SSE_HEADERS, begin_run, first_chunk
from app.core.execution import ExecutionResult, Run
from app.core.identity import Role
from app.core.route_request import InvalidRequest, RouteRequest
from app.core.validation import FieldError

bp = Blueprint("openai", __name__, url_prefix="/v1")

DEFAULT_TASK = "chat"


def openai_error(
    status: int, message: str, kind: str, code: str, param: str | None = None, **extra: Any
) -> tuple[Response, int]:
    """OpenAI's error object, with Symphony's fields beside it."""
    body: dict[str, Any] = {
        "error": {"message": message, "type": kind, "param": param, "code": code, **extra}
    }
    return jsonify(body), status


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def _context(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}

    def pick(name: str) -> str | None:
        value = meta.get(f"symphony_{name}") or request.headers.get(f"X-Symphony-{name.title()}")
        return value.strip() if isinstance(value, str) and value.strip() else None

    context: dict[str, Any] = {"task": pick("task") or DEFAULT_TASK}
    loa = pick("loa")
    if loa is None:
        context["loa"] = 0
    else:
        try:
            context["loa"] = int(loa)
        except ValueError as exc:
            raise InvalidRequest([FieldError("$.metadata.symphony_loa", "must be 0-3")]) from exc
    risk = pick("risk")
    if risk:
        context["risk"] = risk
    tools = pick("tools")
    if tools:
        context["requires_tools"] = [t.strip() for t in tools.split(",") if t.strip()]
    return context


def to_route_request(body: Any) -> RouteRequest:
    """Map an OpenAI body onto Symphony's routing request (both validated)."""
    svc = services()
    errors = svc.chat_schema.errors(body)
    if errors:
        raise InvalidRequest(errors)
    route_body: dict[str, Any] = {
        **_context(body),
        "messages": [
            {
                "role": "system" if m["role"] == "developer" else m["role"],
                "content": _text(m["content"]),
            }
            for m in body["messages"]
        ],
        "stream": bool(body.get("stream", False)),
    }
    if body["model"] != "auto":
        route_body["model"] = body["model"]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        route_body["max_output_tokens"] = max_tokens
    if "temperature" in body:
        route_body["temperature"] = body["temperature"]
    return svc.requests.parse(route_body, principal().as_input())


def _headers(run: Run, model: str | None) -> dict[str, str]:
    decision = run.plan.decision
    return {
        "X-Symphony-Model": model or decision.model or "",
        "X-Symphony-Rule": decision.rule or "",
        "X-Symphony-Decision-Id": run.first_plan.decision_id or "",
        "X-Symphony-Audit-Id": run.audit_id,
    }


def _completion(result: ExecutionResult) -> dict[str, Any]:
    usage = result.usage.as_dict() if result.usage else {}
    return {
        "id": f"chatcmpl-{result.run.audit_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text},
                "finish_reason": "stop",
            }
        ],
        "usage": {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
        "symphony": {
            "audit_id": result.run.audit_id,
            "decision_id": result.run.first_plan.decision_id,
            "rule": result.run.plan.decision.rule,
            "cost_usd": round(result.cost_usd, 8),
            "usage_estimated": usage.get("estimated", False),
            "attempts": [a.as_dict() for a in result.attempts],
        },
    }


def _chunk(run: Run, model: str, delta: dict[str, Any], finish: str | None) -> str:
    payload = {
        "id": f"chatcmpl-{run.audit_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _openai_stream(
    run: Run,
    model: str,
    first: str | None,
    stream: Generator[str, None, ExecutionResult],
    ended: ExecutionResult | None,
    include_usage: bool,
) -> Iterator[str]:
    try:
        yield _chunk(run, model, {"role": "assistant", "content": first or ""}, None)
        result = ended
        while result is None:
            try:
                text = next(stream)
            except StopIteration as stop:
                result = stop.value
                break
            yield _chunk(run, model, {"content": text}, None)
        if result.status != "ok":
            error = {
                "error": {
                    "message": "upstream stream failed",
                    "type": "api_error",
                    "code": result.error,
                    "param": None,
                }
            }
            yield f"data: {json.dumps(error)}\n\n"
            return
        yield _chunk(run, model, {}, "stop")
        if include_usage and result.usage:
            usage = result.usage.as_dict()
            usage.pop("estimated")
            payload: dict[str, Any] = {
                "id": f"chatcmpl-{run.audit_id}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(payload)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        stream.close()


def _failed(result: ExecutionResult) -> tuple[Response, int]:
    capacity = result.status == "denied"
    response, status = openai_error(
        429 if capacity else 502,
        "no candidate had capacity left" if capacity else "no candidate model answered",
        "rate_limit_error" if capacity else "api_error",
        result.error or "all_attempts_failed",
        attempts=[a.as_dict() for a in result.attempts],
    )
    response.headers.update(_headers(result.run, None))
    return response, status


@bp.post("/chat/completions")
@requires(Role.CLIENT)
def chat_completions() -> ResponseReturnValue:
    """OpenAI chat completions, routed by the policy."""
    try:
        body = json_body()
        if not isinstance(body, dict):
            raise InvalidRequest([FieldError("$", "body must be a JSON object")])
        route_request = to_route_request(body)
    except InvalidRequest as exc:
        first = exc.errors[0]
        return openai_error(
            400,
            f"{first.field}: {first.message}",
            "invalid_request_error",
            "invalid_request",
            param=first.field,
            errors=[e.as_dict() for e in exc.errors],
        )
    except ApiError as exc:
        return openai_error(exc.status, exc.message, "invalid_request_error", exc.code)
    try:
        run = begin_run(route_request, "notes", "openai")
    except ApiError as exc:
        return openai_error(exc.status, exc.message, "api_error", exc.code)
    executor = services().executor
    decision = run.plan.decision
    if not decision.allow:
        result = executor.deny(run)
        response, status = openai_error(
            decision.http_status,
            f"denied by policy: {decision.denial}",
            "rate_limit_error" if decision.http_status == 429 else "permission_denied",
            decision.denial or "denied",
            symphony={
                "decision": decision.as_dict(),
                "decision_id": run.first_plan.decision_id,
                "audit_id": result.run.audit_id,
            },
        )
        response.headers.update(_headers(run, None))
        return response, status
    if not route_request.stream:
        result = executor.complete(run)
        if result.status != "ok":
            return _failed(result)
        response = jsonify(_completion(result))
        response.headers.update(_headers(run, result.model))
        return response
    stream = executor.stream(run)
    chunk, ended = first_chunk(stream)
    if ended is not None and ended.status != "ok":
        return _failed(ended)
    model = run.serving or decision.model or ""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return Response(
        _openai_stream(run, model, chunk, stream, ended, include_usage),
        mimetype="text/event-stream",
        headers={**SSE_HEADERS, **_headers(run, model)},
    )


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
