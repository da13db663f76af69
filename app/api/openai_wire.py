"""OpenAI's wire format in and out: a client's body as a routing request (its fields kept for
the upstream), and the upstream's answer back with the serving model and Symphony's extension.

Symphony's context comes from `metadata` (`symphony_task`, `symphony_loa`, `symphony_risk`,
`symphony_tools` comma-separated) or the `X-Symphony-Task/-Loa/-Risk/-Tools` headers; without
any, a chat is task `chat`, an embedding task `embed`, LoA 0, risk low. Tools the request
needs are derived from the body when the client does not name them: `tools` → the model must
offer `function_calling`, an image part → `vision`, /v1/embeddings → `embeddings`.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from flask import request

from app.api.access import principal
from app.api.context import services
from app.core.execution import ExecutionResult, Run
from app.core.ports import Delta
from app.core.route_request import DEFAULT_MAX_OUTPUT_TOKENS, InvalidRequest, RouteRequest
from app.core.validation import FieldError

CHAT = "chat/completions"
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"
DEFAULT_TASK = {CHAT: "chat", COMPLETIONS: "chat", EMBEDDINGS: "embed"}
# Fields Symphony owns: it sets them for the upstream itself. Everything else is forwarded.
OWNED = frozenset({"model", "messages", "stream", "metadata", "temperature"})
POLICY_ROLES = {"developer": "system", "function": "tool"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _context(body: dict[str, Any], endpoint: str) -> dict[str, Any]:
    meta = body.get("metadata") or {}

    def pick(name: str) -> str | None:
        value = meta.get(f"symphony_{name}") or request.headers.get(f"X-Symphony-{name.title()}")
        return value.strip() if isinstance(value, str) and value.strip() else None

    context: dict[str, Any] = {"task": pick("task") or DEFAULT_TASK[endpoint]}
    loa = pick("loa")
    try:
        context["loa"] = int(loa) if loa is not None else 0
    except ValueError as exc:
        raise InvalidRequest([FieldError("$.metadata.symphony_loa", "must be 0-3")]) from exc
    risk = pick("risk")
    if risk:
        context["risk"] = risk
    tools = pick("tools")
    if tools:
        context["requires_tools"] = [t.strip() for t in tools.split(",") if t.strip()]
    else:
        derived = _capabilities(body, endpoint)
        if derived:
            context["requires_tools"] = derived
    return context


def _capabilities(body: dict[str, Any], endpoint: str) -> list[str]:
    """What a model must offer to answer this body."""
    if endpoint == EMBEDDINGS:
        return ["embeddings"]
    needs: list[str] = []
    if body.get("tools") or body.get("functions"):
        needs.append("function_calling")
    parts = [
        part
        for message in body.get("messages") or []
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    ]
    if any(isinstance(p, dict) and p.get("type") == "image_url" for p in parts):
        needs.append("vision")
    return needs


def _policy_messages(body: dict[str, Any], endpoint: str) -> list[dict[str, str]]:
    """Role and text of each message, for the policy's estimates and the run report."""
    if endpoint == CHAT:
        return [
            {
                "role": POLICY_ROLES.get(m["role"], m["role"]),
                "content": _text(m.get("content")),
            }
            for m in body["messages"]
        ]
    given = body.get("prompt" if endpoint == COMPLETIONS else "input")
    if isinstance(given, list):
        text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in given)
    else:
        text = given if isinstance(given, str) else json.dumps(given)
    return [{"role": "user", "content": text}]


def _passthrough(body: dict[str, Any]) -> dict[str, Any]:
    forwarded = {k: v for k, v in body.items() if k not in OWNED}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if not k.startswith("symphony_")}
    if meta:
        forwarded["metadata"] = meta
    return forwarded


def to_route_request(body: Any, endpoint: str) -> RouteRequest:
    """An OpenAI body as a routing request; InvalidRequest naming every bad field."""
    svc = services()
    schema = {CHAT: svc.chat_schema, COMPLETIONS: svc.completions_schema}.get(
        endpoint, svc.embeddings_schema
    )
    if not isinstance(body, dict):
        raise InvalidRequest([FieldError("$", "body must be a JSON object")])
    errors = schema.errors(body)
    if errors:
        raise InvalidRequest(errors)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    route_body: dict[str, Any] = {
        **_context(body, endpoint),
        "messages": _policy_messages(body, endpoint),
        "stream": bool(body.get("stream", False)),
        "max_output_tokens": 1 if endpoint == EMBEDDINGS else limit or DEFAULT_MAX_OUTPUT_TOKENS,
    }
    if body["model"] != "auto":
        route_body["model"] = body["model"]
    if "temperature" in body:
        route_body["temperature"] = body["temperature"]
    parsed = svc.requests.parse(route_body, principal().as_input())
    raw = tuple(
        {**m, "role": "system"} if m.get("role") == "developer" else dict(m)
        for m in body.get("messages") or []
    )
    return replace(
        parsed,
        raw_messages=raw,
        passthrough=_passthrough(body),
        endpoint=endpoint,
        forward_max_tokens=False,
    )


def headers(run: Run, model: str | None) -> dict[str, str]:
    """What happened, in response headers."""
    decision = run.plan.decision
    return {
        "X-Symphony-Model": model or decision.model or "",
        "X-Symphony-Rule": decision.rule or "",
        "X-Symphony-Decision-Id": run.first_plan.decision_id or "",
        "X-Symphony-Audit-Id": run.audit_id,
    }


def extension(result: ExecutionResult) -> dict[str, Any]:
    """The `symphony` field of an answer: the run, the decision, cost and every attempt."""
    return {
        "audit_id": result.run.audit_id,
        "decision_id": result.run.first_plan.decision_id,
        "rule": result.run.plan.decision.rule,
        "cost_usd": round(result.cost_usd, 8),
        "usage_estimated": bool(result.usage and result.usage.estimated),
        "attempts": [a.as_dict() for a in result.attempts],
    }


def _usage(result: ExecutionResult) -> dict[str, int]:
    usage = result.usage.as_dict() if result.usage else {}
    return {k: int(usage.get(k, 0)) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def answer(result: ExecutionResult, endpoint: str) -> dict[str, Any]:
    """The upstream's answer as it came, naming the model that served; usage estimated
    (and said so in `symphony.usage_estimated`) only when the upstream reported none."""
    payload = dict(result.payload or {})
    if not payload:  # an upstream that answered without a body we could keep
        payload = {
            "id": f"chatcmpl-{result.run.audit_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": result.finish_reason or "stop",
                }
            ],
        }
    payload["model"] = result.model
    if not isinstance(payload.get("usage"), dict) or result.usage is None or result.usage.estimated:
        usage = _usage(result)
        if endpoint == EMBEDDINGS:
            usage = {
                "prompt_tokens": usage["prompt_tokens"],
                "total_tokens": usage["prompt_tokens"],
            }
        payload["usage"] = usage
    payload["symphony"] = extension(result)
    return payload


class ChunkStream:
    """Rewrites the upstream's chunks for the client: the serving model's name, usage held
    back to the end (sent only when the client asked for it), a finish reason guaranteed."""

    def __init__(self, run: Run, model: str, endpoint: str, include_usage: bool) -> None:
        self._run = run
        self._model = model
        self._endpoint = endpoint
        self._include_usage = include_usage
        self._finished = False
        self._id: str = f"chatcmpl-{run.audit_id}"

    @staticmethod
    def _sse(payload: dict[str, Any]) -> str:
        return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"

    def chunk(self, delta: Delta) -> str:
        """One upstream chunk, for the client."""
        chunk = dict(delta.raw)
        chunk["model"] = self._model
        chunk.pop("usage", None)
        self._id = str(chunk.get("id") or self._id)
        if any(isinstance(c, dict) and c.get("finish_reason") for c in chunk["choices"]):
            self._finished = True
        return self._sse(chunk)

    def _object(self) -> str:
        return "text_completion" if self._endpoint == COMPLETIONS else "chat.completion.chunk"

    def end(self, result: ExecutionResult) -> list[str]:
        """What closes a finished stream: a finish reason if none came, usage, [DONE]."""
        closing: list[str] = []
        base = {"id": self._id, "object": self._object(), "created": int(time.time())}
        if not self._finished:
            empty: dict[str, Any] = {"text": ""} if self._endpoint == COMPLETIONS else {"delta": {}}
            choice = {"index": 0, **empty, "finish_reason": result.finish_reason or "stop"}
            closing.append(self._sse({**base, "model": self._model, "choices": [choice]}))
        if self._include_usage:
            closing.append(
                self._sse(
                    {
                        **base,
                        "model": self._model,
                        "choices": [],
                        "usage": _usage(result),
                        "symphony": extension(result),
                    }
                )
            )
        closing.append("data: [DONE]\n\n")
        return closing
