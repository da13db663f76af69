"""Deciding a route: live counters in, OPA's decision and explanation out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.core.counters import CounterStore, budget_day
from app.core.decision import Decision, MalformedDecision, parse_decision
from app.core.policy_input import build_input
from app.core.policy_service import PolicyService, Snapshot
from app.core.policy_view import PolicyView
from app.core.ports import Controls, Evaluation, PolicyEngine, PolicyEngineUnavailable
from app.core.records import DecisionRecord
from app.core.route_request import RouteRequest

EXPLAIN_MODES = ("off", "notes", "full")


class RevisionMismatch(PolicyEngineUnavailable):
    """The sidecar decided under an older revision than the store's active one for longer
    than the grace (or under none): the decision is refused, not acted on."""

    def __init__(
        self,
        evaluated: str | None,
        active: str,
        decision_id: str | None,
        result: dict[str, Any],
        behind_s: float,
    ) -> None:
        super().__init__(f"sidecar evaluated {evaluated}, the active revision is {active}")
        self.evaluated = evaluated
        self.active = active
        self.decision_id = decision_id
        self.result = result
        self.behind_s = behind_s


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
    """Models whose upstream failed its last probe, and why (kept by the health probes)."""

    unhealthy: frozenset[str] = field(default_factory=frozenset)
    # model -> `unconfigured` (nothing set up where it is called) or `unreachable`.
    reasons: Mapping[str, str] = field(default_factory=dict)

    def mark(self, reasons: Mapping[str, str]) -> None:
        """Replace the unhealthy models with those of `reasons` (model -> reason)."""
        # Reasons first: a reader that sees a model in `unhealthy` finds its reason.
        self.reasons = dict(reasons)
        self.unhealthy = frozenset(self.reasons)


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
        grace_s: float = 5.0,
        on_refused: Callable[[RevisionMismatch], None] = lambda refused: None,
        on_decided: Callable[[DecisionRecord], None] = lambda record: None,
    ) -> None:
        self._engine = engine
        self._counters = counters
        self._policies = policies
        self._controls = controls
        self._health = health
        self._clock = clock
        self._grace_s = grace_s
        self._on_refused = on_refused
        self._on_decided = on_decided

    def now(self) -> float:
        """The router's clock."""
        return self._clock()

    def plan(
        self,
        request: RouteRequest,
        explain: str = "notes",
        source: str = "plan",
        audit_id: str | None = None,
    ) -> Plan:
        """Decide and record the decision; raises PolicyEngineUnavailable when no trustworthy
        decision comes back, RevisionMismatch when the sidecar evaluated an older revision
        past the grace."""
        snapshot = self._policies.snapshot()
        policy = snapshot.view
        now = self._clock()
        usage = self._counters.usage(policy.models, now, budget_day(now, policy.timezone))
        opa_input = build_input(
            request, usage, self._health.unhealthy, now, self._controls.kill_switch()
        )
        evaluation = self._engine.evaluate(opa_input, explain)
        decision = self._read(evaluation)
        if evaluation.decision_id is None:
            evaluation = replace(evaluation, decision_id=str(uuid.uuid4()))
        self._on_decided(
            DecisionRecord(
                decision_id=str(evaluation.decision_id),
                at=now,
                source=source,
                audit_id=audit_id,
                revision=decision.revision,
                revision_number=decision.revision_number,
                input=opa_input,
                result=evaluation.result,
            )
        )
        evaluated = decision.revision_number
        if evaluated != policy.revision:
            policy = self._evaluated_view(snapshot, evaluated, decision, evaluation, now)
        return Plan(decision, evaluation, policy, request, now)

    def _evaluated_view(
        self,
        snapshot: Snapshot,
        evaluated: int | None,
        decision: Decision,
        evaluation: Evaluation,
        now: float,
    ) -> PolicyView:
        """The view of the revision OPA evaluated, if the proxy may act on it."""
        if evaluated is not None and evaluated > snapshot.pointer.revision:
            # Our cached pointer is behind the store: the sidecar already has the newer one.
            return self._policies.view_of(evaluated)
        behind_s = now - snapshot.pointer.activated_at.timestamp()
        if evaluated is None or behind_s > self._grace_s:
            refused = RevisionMismatch(
                evaluated=decision.revision,
                active=snapshot.view.bundle_revision,
                decision_id=evaluation.decision_id,
                result=decision.as_dict(),
                behind_s=behind_s,
            )
            self._on_refused(refused)
            raise refused
        return self._policies.view_of(evaluated)

    @staticmethod
    def _read(evaluation: Evaluation) -> Decision:
        try:
            return parse_decision(evaluation.result)
        except MalformedDecision as exc:
            raise PolicyEngineUnavailable(f"OPA answered garbage: {exc}") from exc
