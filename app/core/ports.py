"""The interfaces the core needs from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class PolicyEngineUnavailable(Exception):
    """The policy engine could not be reached or did not answer with a decision."""


class EvaluationFailed(Exception):
    """OPA evaluated nothing for another revision (replay, simulation): the revision does
    not compile, evaluation erred or timed out."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.errors = [dict(error) for error in errors]


@dataclass(frozen=True)
class Evaluation:
    """One answer from the policy engine."""

    result: Any
    trace: tuple[str, ...]
    decision_id: str | None
    eval_seconds: float
    metrics: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """The outcome of one health probe of a dependency."""

    name: str
    ok: bool
    latency_ms: float
    detail: str = ""
    configured: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "status": "ok" if self.ok else ("off" if not self.configured else "down"),
            "latency_ms": round(self.latency_ms, 2),
            "detail": self.detail,
        }


class PolicyEngine(Protocol):
    """Evaluates the router policy (OPA in production and in tests)."""

    def evaluate(self, opa_input: dict[str, Any], explain: str) -> Evaluation:
        """Evaluate the decision for `opa_input`; explain is 'off', 'notes' or 'full'."""
        ...

    def probe(self) -> Probe:
        """Check the engine's health."""
        ...


class Controls(Protocol):
    """Operator controls that every decision reads (the kill switch)."""

    def kill_switch(self) -> bool:
        """Whether the kill switch is on."""
        ...

    def set_kill_switch(self, on: bool, updated_by: str, reason: str | None) -> dict[str, Any]:
        """Turn the kill switch on or off; returns the new state."""
        ...

    def state(self) -> dict[str, Any]:
        """The kill switch state with who changed it and when."""
        ...


class GatewayFailure(Exception):
    """An upstream attempt failed; `outcome` is a bounded label such as `http_429`."""

    def __init__(self, outcome: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{outcome}: {detail}")
        self.outcome = outcome
        self.detail = detail
        self.status = status

    @property
    def retryable(self) -> bool:
        """Whether another candidate should be tried (429, 5xx, timeout, refused, cut)."""
        return self.outcome != "http_4xx"


@dataclass(frozen=True)
class Completion:
    """A finished upstream answer: its text, reported usage and, when not streamed, the
    upstream's whole JSON answer (passed through to OpenAI clients)."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    ttfb_seconds: float
    status: int = 200
    finish_reason: str | None = None
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Delta:
    """One streamed chunk: the text it adds (may be empty: a role, a tool-call fragment, a
    finish reason) and the upstream's chunk as it came."""

    text: str
    raw: Mapping[str, Any]

    @property
    def substantive(self) -> bool:
        """Whether it carries content: text, a tool call or a finish reason (a role alone does
        not, so a stream may still fall back to another model after it)."""
        if self.text:
            return True
        for choice in self.raw.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(choice, dict):
                continue
            if choice.get("finish_reason") or (
                isinstance(delta, dict) and (delta.get("tool_calls") or delta.get("function_call"))
            ):
                return True
        return False


@dataclass(frozen=True)
class ChatCall:
    """What is sent upstream for one attempt.

    `extra` holds the client's other request fields (tools, stop, seed, response_format, ...),
    forwarded unchanged; `endpoint` is `chat/completions`, `completions` or `embeddings`.
    `max_tokens` is None when the client set no limit (its own field travels in `extra`).
    """

    base_url: str
    upstream_model: str
    messages: tuple[Mapping[str, Any], ...]
    max_tokens: int | None
    temperature: float | None
    stream: bool
    extra: Mapping[str, Any] = field(default_factory=dict)
    endpoint: str = "chat/completions"
    read_timeout_s: float | None = None
    """The route's upstream read timeout (the policy rule's `route.timeout_s`), else the
    gateway's default."""


class Gateway(Protocol):
    """Any OpenAI-compatible endpoint."""

    def complete(self, call: ChatCall) -> Completion:
        """One non-streaming chat completion; raises GatewayFailure."""
        ...

    def stream(self, call: ChatCall) -> Generator[Delta, None, Completion]:
        """A streaming call: the upstream's chunks as Deltas; its return value (the
        StopIteration value) is the Completion; closing it stops the upstream call."""
        ...

    def probe(self, base_url: str) -> Probe:
        """GET <base_url>/models."""
        ...
