"""A client's routing request: its context, validated, with defaults filled in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.validation import FieldError, SchemaChecker

DEFAULT_MAX_OUTPUT_TOKENS = 256
CHARS_PER_TOKEN = 4


class InvalidRequest(Exception):
    """The body failed validation; carries every field error."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str
    content: str


@dataclass(frozen=True)
class RouteRequest:
    """What the policy decides on, plus what the gateway needs to answer."""

    task: str
    loa: int
    risk: str = "low"
    requires_tools: tuple[str, ...] = ()
    est_tokens: int = 0
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    temperature: float | None = None
    stream: bool | None = None
    model: str = "auto"
    messages: tuple[Message, ...] = field(default=())
    # `input.client` for the policy: the authenticated key's name, roles and team.
    client: Mapping[str, Any] | None = None
    # What an OpenAI client sent, for the upstream: its messages as they were (tool calls,
    # content parts), its other fields (forwarded unchanged), and which endpoint it called.
    raw_messages: tuple[Mapping[str, Any], ...] = ()
    passthrough: Mapping[str, Any] = field(default_factory=dict)
    endpoint: str = "chat/completions"
    # False when the client set no output limit: none is sent upstream either (the policy
    # still estimates cost with max_output_tokens).
    forward_max_tokens: bool = True

    def policy_view(self) -> dict[str, Any]:
        """The `input.request` object sent to OPA (no prompt text ever goes to the policy)."""
        view: dict[str, Any] = {
            "task": self.task,
            "loa": self.loa,
            "risk": self.risk,
            "requires_tools": list(self.requires_tools),
            "est_tokens": self.est_tokens,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
        }
        if self.temperature is not None:
            view["temperature"] = self.temperature
        if self.stream is not None:
            view["stream"] = self.stream
        return view


def estimate_tokens(messages: tuple[Message, ...]) -> int:
    """A rough prompt size (4 characters a token) used when the client gives none."""
    chars = sum(len(m.content) for m in messages)
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


class RouteRequestParser:
    """Validates bodies against schemas/route-request.schema.json and builds RouteRequests."""

    def __init__(self, schema: dict[str, Any], redact: Callable[[str], str] = str) -> None:
        self._checker = SchemaChecker(schema)
        # A requested model name is free text the client chose: anything personal or secret
        # in it is masked here, before the policy, its decision log, records or events see it.
        self._redact = redact

    def _model(self, name: str) -> str:
        return name if name == "auto" else self._redact(name)

    def parse(self, body: Any, client: Mapping[str, Any] | None = None) -> RouteRequest:
        """Return the request or raise InvalidRequest naming every bad field."""
        errors = self._checker.errors(body)
        if not errors and "input" in body and "messages" in body:
            errors = [FieldError("$.messages", "give either input or messages, not both")]
        if errors:
            raise InvalidRequest(errors)
        messages: tuple[Message, ...] = ()
        if "messages" in body:
            messages = tuple(Message(m["role"], m["content"]) for m in body["messages"])
        elif "input" in body:
            messages = (Message("user", body["input"]),)
        est = body.get("est_tokens")
        return RouteRequest(
            task=body["task"],
            loa=body["loa"],
            risk=body.get("risk", "low"),
            requires_tools=tuple(body.get("requires_tools", [])),
            est_tokens=est if est is not None else estimate_tokens(messages),
            max_output_tokens=body.get("max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS),
            temperature=body.get("temperature"),
            stream=body.get("stream"),
            model=self._model(body.get("model", "auto")),
            messages=messages,
            client=client,
        )
