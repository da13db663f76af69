"""Deciding a route: live counters in, OPA's decision and explanation out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.counters import CounterStore, budget_day
from app.core.decision import Decision, MalformedDecision, parse_decision
from app.core.policy_input import build_input
from app.core.policy_service import PolicyService
from app.core.policy_view import PolicyView
from app.core.ports import Controls, Evaluation, PolicyEngine, PolicyEngineUnavailable
from app.core.route_request import RouteRequest

EXPLAIN_MODES = ("off", "notes", "full")


@dataclass(frozen=True)
class Plan:
    """A decision with the evaluation that produced it and the policy it was made under."""

    decision: Decision
    evaluation: Evaluation
    policy: PolicyView
    request: RouteRequest
    decided_at: float

    @property
    def decision_id(self) -> str | None:
        """OPA's decision id (it ties the answer to OPA's decision log)."""
        return self.evaluation.decision_id

    def explain(self) -> dict[str, Any]:
        """The explanation block returned to clients."""
        return {
            "reasons": [r.as_dict() for r in self.decision.reasons],
            "trace": list(self.evaluation.trace),
        }


@dataclass
class ModelHealth:
    """Models whose upstream failed its last probe (kept by the health job)."""

    unhealthy: frozenset[str] = field(default_factory=frozenset)


class Router:
    """Builds the OPA input from live state, asks the engine, and reads the decision."""

    def __init__(
        self,
        engine: PolicyEngine,
        counters: CounterStore,
        policies: PolicyService,
        controls: Controls,
        health: ModelHealth,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._counters = counters
        self._policies = policies
        self._controls = controls
        self._health = health
        self._clock = clock

    def now(self) -> float:
        """The router's clock."""
        return self._clock()

    def plan(self, request: RouteRequest, explain: str = "notes") -> Plan:
        """Decide; raises PolicyEngineUnavailable when no trustworthy decision comes back."""
        policy = self._policies.current()
        now = self._clock()
        usage = self._counters.usage(policy.models, now, budget_day(now, policy.timezone))
        opa_input = build_input(
            request, usage, self._health.unhealthy, now, self._controls.kill_switch()
        )
        evaluation = self._engine.evaluate(opa_input, explain)
        decision = self._read(evaluation)
        if decision.denial == "policy_invalid":
            # OPA keeps data in memory: after a sidecar restart the document must be pushed again.
            self._policies.push()
            evaluation = self._engine.evaluate(opa_input, explain)
            decision = self._read(evaluation)
        return Plan(decision, evaluation, policy, request, now)

    @staticmethod
    def _read(evaluation: Evaluation) -> Decision:
        try:
            return parse_decision(evaluation.result)
        except MalformedDecision as exc:
            raise PolicyEngineUnavailable(f"OPA answered garbage: {exc}") from exc
