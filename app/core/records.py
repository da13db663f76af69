"""Decision records: every decision with the exact OPA input it was made on, the result, and
the policy revision OPA evaluated, so that any decision can be explained again (replayed) and
any candidate policy can be tried on real traffic (simulated) before it is activated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

SOURCES = ("plan", "execute", "openai", "reevaluation")


@dataclass(frozen=True)
class DecisionRecord:
    """One decision as it was made."""

    decision_id: str
    at: float
    source: str
    audit_id: str | None
    revision: str | None
    revision_number: int | None
    input: Mapping[str, Any]
    result: Mapping[str, Any]

    @property
    def allow(self) -> bool:
        """Whether the decision allowed the request."""
        return bool(self.result.get("allow"))

    def outcome(self) -> dict[str, Any]:
        """allow, model, rule, denial."""
        return outcome(self.result)

    def summary(self) -> dict[str, Any]:
        """The listing form."""
        return {
            "decision_id": self.decision_id,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds"),
            "source": self.source,
            "audit_id": self.audit_id,
            "revision": self.revision,
            "revision_number": self.revision_number,
            **self.outcome(),
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything, with the input and the whole decision."""
        body = self.summary()
        for key in ("allow", "model", "rule", "denial"):
            body.pop(key)
        return {**body, "input": dict(self.input), "decision": dict(self.result)}


def outcome(result: Mapping[str, Any]) -> dict[str, Any]:
    """What a decision did: allow, model, rule, denial."""
    return {
        "allow": bool(result.get("allow")),
        "model": result.get("model"),
        "rule": result.get("rule"),
        "denial": result.get("denial"),
    }


def differences(recorded: Any, replayed: Any, path: str = "$") -> list[str]:
    """JSON paths where two decisions differ (empty when equal)."""
    if isinstance(recorded, Mapping) and isinstance(replayed, Mapping):
        found: list[str] = []
        for key in sorted(set(recorded) | set(replayed)):
            found += differences(recorded.get(key), replayed.get(key), f"{path}.{key}")
        return found
    if isinstance(recorded, list) and isinstance(replayed, list):
        if len(recorded) != len(replayed):
            return [path]
        found = []
        for index, (a, b) in enumerate(zip(recorded, replayed, strict=True)):
            found += differences(a, b, f"{path}[{index}]")
        return found
    return [] if recorded == replayed else [path]


@dataclass(frozen=True)
class RecordQuery:
    """A page of decision records, newest first."""

    model: str | None = None
    rule: str | None = None
    denial: str | None = None
    revision: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: str | None = None
    limit: int = 100


class DecisionRecords(Protocol):
    """Where decision records go: `add` never blocks the request; reads see what was added."""

    def add(self, record: DecisionRecord) -> None:
        """Queue a record for the next batch."""
        ...

    def get(self, decision_id: str) -> DecisionRecord | None:
        """One record, or None."""
        ...

    def query(self, query: RecordQuery) -> list[DecisionRecord]:
        """Records matching `query`, newest first."""
        ...

    def flush(self) -> None:
        """Write what is queued now."""
        ...


@dataclass(frozen=True)
class Simulation:
    """How a candidate policy would have decided a set of recorded decisions."""

    total: int
    kept: int
    changed_model: int
    became_denied: int
    became_allowed: int
    still_denied: int
    by_rule: dict[str, dict[str, int]]
    by_model: dict[str, dict[str, int]]
    by_reason: dict[str, int]
    usd_per_day_change: float
    examples: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "total": self.total,
            "kept": self.kept,
            "changed_model": self.changed_model,
            "became_denied": self.became_denied,
            "became_allowed": self.became_allowed,
            "still_denied": self.still_denied,
            "by_rule": self.by_rule,
            "by_model": self.by_model,
            "by_reason": self.by_reason,
            "usd_per_day_change": round(self.usd_per_day_change, 6),
            "examples": self.examples,
        }


def _cost(result: Mapping[str, Any]) -> float:
    costs = result.get("estimated_cost_usd") or {}
    model = result.get("model")
    value = costs.get(model) if isinstance(costs, Mapping) and model else None
    return float(value) if isinstance(value, int | float) and result.get("allow") else 0.0


def simulate(
    records: Sequence[DecisionRecord],
    candidate: Sequence[Mapping[str, Any]],
    window_s: float,
    max_examples: int = 50,
) -> Simulation:
    """Compare each record's decision with the candidate's decision for the same input.

    Dollars: the change in the chosen models' estimated cost (the policy's prices on the
    request's token estimate), summed over the records and scaled from the window to a day.
    """
    kept = changed = denied = allowed = still = 0
    by_rule: dict[str, dict[str, int]] = {}
    by_model: dict[str, dict[str, int]] = {}
    by_reason: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    usd = 0.0
    for record, after in zip(records, candidate, strict=True):
        before = record.result
        rule = str(before.get("rule") or after.get("rule") or "none")
        counts = by_rule.setdefault(
            rule, {"total": 0, "changed_model": 0, "became_denied": 0, "became_allowed": 0}
        )
        counts["total"] += 1
        for side, result in (("before", before), ("after", after)):
            if result.get("allow") and result.get("model"):
                by_model.setdefault(str(result["model"]), {"before": 0, "after": 0})[side] += 1
        usd += _cost(after) - _cost(before)
        if before.get("allow") and not after.get("allow"):
            denied += 1
            counts["became_denied"] += 1
            reason = str(after.get("denial") or "denied")
            by_reason[reason] = by_reason.get(reason, 0) + 1
        elif not before.get("allow") and after.get("allow"):
            allowed += 1
            counts["became_allowed"] += 1
        elif not before.get("allow"):
            still += 1
            continue
        elif before.get("model") != after.get("model"):
            changed += 1
            counts["changed_model"] += 1
            for reason in after.get("reasons") or []:
                if reason.get("model") == before.get("model"):
                    code = str(reason.get("reason"))
                    by_reason[code] = by_reason.get(code, 0) + 1
        else:
            kept += 1
            continue
        if len(examples) < max_examples:
            examples.append(
                {
                    "decision_id": record.decision_id,
                    "before": outcome(before),
                    "after": outcome(after),
                    "reasons": list(after.get("reasons") or []),
                }
            )
    scale = 86_400 / window_s if window_s > 0 else 1.0
    return Simulation(
        total=len(records),
        kept=kept,
        changed_model=changed,
        became_denied=denied,
        became_allowed=allowed,
        still_denied=still,
        by_rule=by_rule,
        by_model=by_model,
        by_reason=by_reason,
        usd_per_day_change=usd * scale,
        examples=examples,
    )


def disagreement(enforced: Mapping[str, Any], shadow: Mapping[str, Any]) -> str | None:
    """How a shadow decision differs from the enforced one: `became_denied`,
    `became_allowed`, `changed_model`, or None when they agree."""
    if enforced.get("allow") and not shadow.get("allow"):
        return "became_denied"
    if not enforced.get("allow") and shadow.get("allow"):
        return "became_allowed"
    if enforced.get("allow") and enforced.get("model") != shadow.get("model"):
        return "changed_model"
    return None
