"""Where decisions, attempts and executions go: Prometheus metrics and the websocket."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from app.core.execution import ExecutionResult
from app.core.latency import LatencyBook
from app.core.router import Plan, RevisionMismatch
from app.events import EventBus
from app.metrics import SymphonyMetrics

ALERT_REPEAT_S = 30.0
log = logging.getLogger("symphony")


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class LiveTelemetry:
    """Counts into metrics, records latencies, publishes websocket events and alerts."""

    def __init__(self, metrics: SymphonyMetrics, bus: EventBus, latencies: LatencyBook) -> None:
        self._metrics = metrics
        self._bus = bus
        self._latencies = latencies
        self._lock = threading.Lock()
        self._last_alert: dict[tuple[str, str | None], float] = {}

    def refused(self, refusal: RevisionMismatch) -> None:
        """Record a decision refused for an older revision: its id, revision and result."""
        log.warning(
            "refused decision %s: evaluated %s, active %s (%.1f s behind): %s",
            refusal.decision_id,
            refusal.evaluated,
            refusal.active,
            refusal.behind_s,
            refusal.result,
        )
        self._metrics.revision_mismatch()

    def decided(self, plan: Plan, source: str, audit_id: str | None) -> None:
        """Count the decision and publish it (without any prompt text)."""
        decision = plan.decision
        self._metrics.policy_eval.observe(plan.evaluation.eval_seconds)
        self._metrics.observe_decision(decision.allow, decision.denial, decision.model)
        if self._bus.listening:
            self._publish_decision(plan, source, audit_id)
        if decision.denial == "kill_switch":
            self.alert("warning", "KillSwitchBlocked", None, "kill switch blocked a risky request")

    def _publish_decision(self, plan: Plan, source: str, audit_id: str | None) -> None:
        decision, request = plan.decision, plan.request
        self._bus.publish(
            {
                "type": "decision",
                "at": now_iso(),
                "source": source,
                "decision_id": plan.decision_id,
                "audit_id": audit_id,
                "task": request.task,
                "loa": request.loa,
                "risk": request.risk,
                "allow": decision.allow,
                "model": decision.model,
                "rule": decision.rule,
                "denial": decision.denial,
                "revision": decision.revision,
                "reasons": [r.as_dict() for r in decision.reasons],
            }
        )

    def attempted(self, model: str, outcome: str, ttfb_s: float | None) -> None:
        """Count an upstream attempt."""
        self._metrics.attempt(model, outcome)
        if ttfb_s is not None:
            self._metrics.observe_ttfb(model, ttfb_s)
            self._latencies.add(model, None, ttfb_s * 1000)
        if outcome == "http_429":
            self.alert("warning", "ProviderThrottling", model, f"{model} answered 429")
        elif outcome in ("http_5xx", "timeout", "connection_error", "stream_cut"):
            self.alert("warning", "ProviderFailing", model, f"{model} failed: {outcome}")

    def executed(self, result: ExecutionResult) -> None:
        """Observe the end-to-end latency and fallbacks; tell the live feed which model
        served."""
        if self._bus.listening:
            self._bus.publish(
                {
                    "type": "execution",
                    "at": now_iso(),
                    "decision_id": result.run.first_plan.decision_id,
                    "audit_id": result.run.audit_id,
                    "model": result.model,
                    "status": result.status,
                    "cost_usd": round(result.cost_usd, 8),
                    "latency_ms": round(result.latency_ms, 2),
                }
            )
        status = {"ok": "ok", "denied": "denied"}.get(result.status, "error")
        model = result.model or result.run.plan.decision.model or "none"
        stream = "true" if result.run.request.stream else "false"
        self._metrics.observe_execution(model, stream, status, result.latency_ms / 1000)
        if result.status == "ok" and result.model:
            self._latencies.add(result.model, result.latency_ms, None)
            if result.served_by_fallback:
                self._metrics.fallback(result.model)

    def alert(self, severity: str, name: str, model: str | None, message: str) -> None:
        """Publish an alert, at most once per 30 s per (name, model)."""
        key = (name, model)
        now = time.monotonic()
        with self._lock:
            last = self._last_alert.get(key)
            if last is not None and now - last < ALERT_REPEAT_S:
                return
            self._last_alert[key] = now
        message_body: dict[str, Any] = {
            "type": "alert",
            "at": now_iso(),
            "severity": severity,
            "name": name,
            "model": model,
            "message": message,
        }
        self._bus.publish(message_body)
