"""Executing a routed call: admit, call, fall back, count, price and report."""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from app.core.counters import CounterStore, CounterStoreUnavailable, budget_day
from app.core.inflight import InFlight
from app.core.policy_view import ModelSpec
from app.core.ports import (
    ChatCall,
    Completion,
    Delta,
    Gateway,
    GatewayFailure,
    PolicyEngineUnavailable,
)
from app.core.route_request import CHARS_PER_TOKEN, RouteRequest
from app.core.router import Plan, Router

log = logging.getLogger("symphony.execution")

# Calls in flight per model and proxy when the policy sets no `max_concurrent`.
DEFAULT_MAX_CONCURRENT = 16


@dataclass(frozen=True)
class Attempt:
    """One try at one model."""

    model: str
    outcome: str
    status: int | None
    latency_ms: float
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "model": self.model,
            "outcome": self.outcome,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Usage:
    """Tokens of a call; `estimated` when the upstream did not report them."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON form (OpenAI's field names plus `estimated`)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "estimated": self.estimated,
        }


@dataclass
class Run:
    """One execution in progress."""

    audit_id: str
    request: RouteRequest
    source: str
    first_plan: Plan
    plan: Plan
    started: float
    started_at: float = field(default_factory=time.time)
    attempts: list[Attempt] = field(default_factory=list)
    serving: str | None = None


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended: `ok`, `denied` or `failed`."""

    status: str
    run: Run
    model: str | None
    text: str
    usage: Usage | None
    cost_usd: float
    latency_ms: float
    error: str | None = None
    finish_reason: str | None = None
    payload: Mapping[str, Any] | None = None

    @property
    def attempts(self) -> list[Attempt]:
        """Every attempt in order."""
        return self.run.attempts

    @property
    def served_by_fallback(self) -> bool:
        """Whether a model other than the first one tried served the call."""
        tried = [a.model for a in self.attempts if a.outcome != "rpm_exhausted"]
        return self.status == "ok" and bool(tried) and tried[0] != self.model

    def summary(self) -> dict[str, Any]:
        """The client-facing answer (the same fields streamed in the final SSE event)."""
        plan = self.run.first_plan
        return {
            "audit_id": self.run.audit_id,
            "decision_id": plan.decision_id,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "model": self.model,
            "rule": self.run.plan.decision.rule,
            "output": {"text": self.text},
            "usage": self.usage.as_dict() if self.usage else None,
            "cost_usd": round(self.cost_usd, 8),
            "attempts": [a.as_dict() for a in self.attempts],
            "explain": plan.explain(),
            "error": self.error,
        }

    def report(self, content: str = "none", redact: Callable[[str], str] = str) -> dict[str, Any]:
        """The durable run report: no secrets, no trace; prompt and answer text only when
        `content` is `redacted` (through `redact`) or `full`, else their hashes and sizes."""
        request = self.run.request
        decision = self.run.first_plan.decision
        return {
            "audit_id": self.run.audit_id,
            "at": datetime.fromtimestamp(self.run.started_at, UTC).isoformat(
                timespec="milliseconds"
            ),
            "source": self.run.source,
            "status": self.status,
            "error": self.error,
            "decision_id": self.run.first_plan.decision_id,
            "policy_version": self.run.first_plan.policy.revision,
            "decision": decision.as_dict(),
            "client": dict(request.client) if request.client else None,
            "content": content,
            "request": {
                **request.policy_view(),
                "model": redact(request.model),
                "messages": [
                    {"role": m.role, **_text_record(m.content, content, redact)}
                    for m in request.messages
                ],
            },
            "model": self.model,
            "attempts": [a.as_dict() for a in self.attempts],
            "usage": self.usage.as_dict() if self.usage else None,
            "cost_usd": round(self.cost_usd, 8),
            "latency_ms": round(self.latency_ms, 2),
            "output": _text_record(self.text, content, redact),
        }


def _text_record(text: str, content: str, redact: Callable[[str], str]) -> dict[str, Any]:
    """What a report keeps of a text: its size and hash, plus the text when configured."""
    record: dict[str, Any] = {
        "chars": len(text),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }
    if content == "redacted":
        record["text"] = redact(text)
    elif content == "full":
        record["text"] = text
    return record


class RunStoreUnavailable(RuntimeError):
    """Run reports cannot be stored now: no run is started whose report has nowhere to go."""


class RunReports(Protocol):
    """Durable storage of run reports."""

    def admit(self) -> None:
        """Raise RunStoreUnavailable while reports are not being stored."""
        ...

    def append(self, audit_id: str, report: Callable[[], dict[str, Any]]) -> None:
        """Store a run's report, durable within the store's documented window; `report`
        builds it (the store may call it later, off the request path)."""
        ...

    def get(self, audit_id: str) -> dict[str, Any] | None:
        """A stored report, or None."""
        ...


class Telemetry(Protocol):
    """Where decisions, attempts and executions are reported (metrics, websocket)."""

    def decided(self, plan: Plan, source: str, audit_id: str | None) -> None:
        """A decision was made."""
        ...

    def attempted(self, model: str, outcome: str, ttfb_s: float | None) -> None:
        """An upstream attempt ended."""
        ...

    def executed(self, result: ExecutionResult) -> None:
        """An execution ended."""
        ...


def new_audit_id(now: float) -> str:
    """`run_<UTC timestamp>_<random>`: sortable by time, unguessable."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"run_{stamp}_{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff between attempts."""

    base_s: float = 0.025
    cap_s: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before attempt number `attempt` (1 = the first retry)."""
        return min(self.cap_s, self.base_s * (2.0 ** (attempt - 1))) * (0.5 + rand())


class Executor:
    """Runs a routed call with fallbacks, counting every attempt."""

    def __init__(
        self,
        router: Router,
        counters: CounterStore,
        gateway: Gateway,
        base_url: Callable[[ModelSpec], str],
        reports: RunReports,
        telemetry: Telemetry,
        max_attempts: int = 3,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        redact: Callable[[str], str] = str,
        content: str = "none",
        inflight: InFlight | None = None,
    ) -> None:
        self._router = router
        self._counters = counters
        self._gateway = gateway
        self._base_url = base_url
        self._reports = reports
        self._telemetry = telemetry
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._redact = redact
        self._content = content
        self._inflight = inflight or InFlight(DEFAULT_MAX_CONCURRENT)

    def begin(self, request: RouteRequest, explain: str, source: str) -> Run:
        """Decide (raises PolicyEngineUnavailable, or RunStoreUnavailable while reports
        cannot be stored) and open a run."""
        self._reports.admit()
        audit_id = new_audit_id(time.time())
        plan = self._router.plan(request, explain, source, audit_id)
        run = Run(audit_id, request, source, plan, plan, time.perf_counter())
        self._telemetry.decided(plan, source, run.audit_id)
        return run

    def deny(self, run: Run) -> ExecutionResult:
        """Record a denied run."""
        return self._finish(run, "denied", None, "", None, 0.0, run.plan.decision.denial)

    def complete(self, run: Run) -> ExecutionResult:
        """Non-streaming execution with fallbacks."""
        failure: GatewayFailure | None = None
        candidates = self._candidates(run)
        for model, spec in candidates:
            call = self._call(run, spec, stream=False)
            started = time.perf_counter()
            try:
                completion = self._gateway.complete(call)
            except GatewayFailure as exc:
                failure = exc
                self._failed(run, model, exc, started)
                if not exc.retryable:
                    break
                continue
            result = self._succeeded(run, spec, completion, started)
            candidates.close()  # gives the model's in-flight slot back now
            return result
        candidates.close()
        return self._give_up(run, failure)

    def stream(self, run: Run) -> Generator[Delta, None, ExecutionResult]:
        """Streaming execution: falls back only until the first chunk has reached the client."""
        failure: GatewayFailure | None = None
        candidates = self._candidates(run)
        for model, spec in candidates:
            call = self._call(run, spec, stream=True)
            started = time.perf_counter()
            upstream = self._gateway.stream(call)
            sent = False
            # Chunks that carry nothing yet (a role) wait for the first real one, so a
            # stream that fails before any content still falls back.
            pending: list[Delta] = []
            try:
                while True:
                    try:
                        chunk = next(upstream)
                    except StopIteration as stop:
                        completion: Completion = stop.value
                        yield from pending
                        candidates.close()
                        return self._succeeded(run, spec, completion, started)
                    if not sent and not chunk.substantive:
                        pending.append(chunk)
                        continue
                    sent = True
                    yield from pending
                    pending.clear()
                    yield chunk
            except GatewayFailure as exc:
                failure = exc
                self._failed(run, model, exc, started)
                if sent or not exc.retryable:
                    candidates.close()
                    return self._give_up(run, exc)
            except GeneratorExit:
                # The client went away: stop the upstream call and keep a record of the run.
                elapsed = (time.perf_counter() - started) * 1000
                run.attempts.append(Attempt(model, "client_disconnected", None, elapsed))
                self._finish(run, "cancelled", model, "", None, 0.0, "client_disconnected")
                candidates.close()
                raise
            finally:
                upstream.close()
        candidates.close()
        return self._give_up(run, failure)

    def _candidates(self, run: Run) -> Generator[tuple[str, ModelSpec], None, None]:
        tried: set[str] = set()
        for number in range(self._max_attempts):
            if number > 0:
                self._sleep(self._backoff.delay(number))
                try:
                    run.plan = self._router.plan(run.request, "off", "reevaluation", run.audit_id)
                except PolicyEngineUnavailable:
                    return
                if not run.plan.decision.allow:
                    return
            model = next((m for m in run.plan.decision.eligible if m not in tried), None)
            if model is None:
                return
            tried.add(model)
            spec = run.plan.policy.models.get(model)
            if spec is None:
                continue
            if not self._inflight.try_acquire(model, spec.max_concurrent):
                cap = self._inflight.cap(spec.max_concurrent)
                run.attempts.append(
                    Attempt(model, "concurrency_exhausted", None, 0.0, f"{cap} calls in flight")
                )
                continue
            try:
                admitted = self._counters.admit(model, spec.rpm_cap, self._router.now())
            except BaseException:
                self._inflight.release(model)
                raise
            if not admitted:
                # Another request (or proxy) took the last slot between decision and admission.
                self._inflight.release(model)
                run.attempts.append(Attempt(model, "rpm_exhausted", None, 0.0, "admission refused"))
                continue
            run.serving = model
            try:
                yield model, spec
            finally:
                self._inflight.release(model)

    def _call(self, run: Run, spec: ModelSpec, stream: bool) -> ChatCall:
        request = run.request
        messages: list[Mapping[str, Any]] = list(request.raw_messages) or [
            {"role": m.role, "content": m.content} for m in request.messages
        ]
        if spec.preamble and request.endpoint == "chat/completions":
            messages.insert(0, {"role": "system", "content": spec.preamble})
        return ChatCall(
            base_url=self._base_url(spec),
            upstream_model=spec.upstream_model,
            messages=tuple(messages),
            max_tokens=request.max_output_tokens if request.forward_max_tokens else None,
            temperature=request.temperature,
            stream=stream,
            extra=request.passthrough,
            endpoint=request.endpoint,
            read_timeout_s=run.plan.decision.timeout_s,
        )

    def _failed(self, run: Run, model: str, exc: GatewayFailure, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        # Upstream error text can echo the prompt or a key: it is redacted before it is kept.
        detail = self._redact(exc.detail)
        run.attempts.append(Attempt(model, exc.outcome, exc.status, elapsed, detail))
        policy = run.plan.policy
        try:
            self._counters.record_failure(
                model, self._router.now(), policy.cooldown_failures, policy.cooldown_seconds
            )
        except CounterStoreUnavailable:
            log.warning("counter store down: failure of %s not counted", model)
        self._telemetry.attempted(model, exc.outcome, None)

    def _succeeded(
        self, run: Run, spec: ModelSpec, completion: Completion, started: float
    ) -> ExecutionResult:
        elapsed = (time.perf_counter() - started) * 1000
        run.attempts.append(Attempt(spec.name, "ok", completion.status, elapsed))
        self._telemetry.attempted(spec.name, "ok", completion.ttfb_seconds)
        estimated = completion.prompt_tokens is None or completion.completion_tokens is None
        prompt = completion.prompt_tokens
        if prompt is None:
            prompt = run.request.est_tokens
        produced = completion.completion_tokens
        if produced is None:
            produced = (len(completion.text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
        usage = Usage(prompt, produced, estimated)
        cost = spec.cost_usd(prompt, produced)
        now = self._router.now()
        try:
            self._counters.record_success(spec.name)
            self._counters.record_usage(
                spec.name, prompt + produced, cost, now, budget_day(now, run.plan.policy.timezone)
            )
        except CounterStoreUnavailable:
            # The answer is not lost: the run report (durable) carries the usage, and the
            # budgets are rebuilt from run reports when the counter store comes back.
            log.warning("counter store down: usage of %s kept in the run report only", spec.name)
        return self._finish(
            run,
            "ok",
            spec.name,
            completion.text,
            usage,
            cost,
            None,
            completion.finish_reason,
            completion.payload,
        )

    def _give_up(self, run: Run, failure: GatewayFailure | None) -> ExecutionResult:
        if failure is None:
            # No upstream was called: admission or a re-evaluated decision said no.
            outcomes = {a.outcome for a in run.attempts}
            refused = bool(outcomes) and outcomes <= {"rpm_exhausted", "concurrency_exhausted"}
            reason = (
                (
                    "concurrency_exhausted"
                    if "concurrency_exhausted" in outcomes
                    else "rpm_exhausted"
                )
                if refused
                else (run.plan.decision.denial or "no_candidate")
            )
            return self._finish(run, "denied", None, "", None, 0.0, reason)
        error = "all_attempts_failed" if failure.retryable else "upstream_error"
        return self._finish(run, "failed", None, "", None, 0.0, error)

    def _finish(
        self,
        run: Run,
        status: str,
        model: str | None,
        text: str,
        usage: Usage | None,
        cost: float,
        error: str | None,
        finish_reason: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> ExecutionResult:
        latency = (time.perf_counter() - run.started) * 1000
        result = ExecutionResult(
            status, run, model, text, usage, cost, latency, error, finish_reason, payload
        )
        content, redact = self._content, self._redact
        self._reports.append(run.audit_id, lambda: result.report(content, redact))
        self._telemetry.executed(result)
        return result
