"""The policy's decision, read strictly from what OPA returned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.revisions import revision_number

KNOWN_DENIAL_KINDS = frozenset({"capacity", "governance"})


class MalformedDecision(Exception):
    """OPA answered, but not with a decision this proxy can trust."""


@dataclass(frozen=True)
class Reason:
    """Why one candidate (or the whole request, when `model` is None) was treated as it was."""

    model: str | None
    reason: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"model": self.model, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class Route:
    """How the winning rule wants the call made."""

    stream: bool = True
    max_cost_usd: float | None = None
    context_budget_tokens: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stream": self.stream,
            "max_cost_usd": self.max_cost_usd,
            "context_budget_tokens": self.context_budget_tokens,
        }


@dataclass(frozen=True)
class Decision:
    """`data.symphony.router.decision`, typed."""

    allow: bool
    model: str | None
    rule: str | None
    denial: str | None
    denial_kind: str | None
    route: Route | None
    candidates: tuple[str, ...]
    eligible: tuple[str, ...]
    reasons: tuple[Reason, ...]
    estimated_cost_usd: dict[str, float] = field(default_factory=dict)
    revision: str | None = None
    timeout_s: float | None = None
    """The matched rule's upstream read timeout (`route.timeout_s`), when it sets one."""

    @property
    def revision_number(self) -> int | None:
        """The policy revision number OPA evaluated (from its bundle manifest)."""
        return revision_number(self.revision)

    def as_dict(self) -> dict[str, Any]:
        """JSON form, the same shape OPA produced."""
        return {
            "allow": self.allow,
            "model": self.model,
            "rule": self.rule,
            "denial": self.denial,
            "denial_kind": self.denial_kind,
            "route": self.route.as_dict() if self.route else None,
            "candidates": list(self.candidates),
            "eligible": list(self.eligible),
            "reasons": [r.as_dict() for r in self.reasons],
            "estimated_cost_usd": dict(self.estimated_cost_usd),
            "revision": self.revision,
            **({"timeout_s": self.timeout_s} if self.timeout_s is not None else {}),
        }

    @property
    def http_status(self) -> int:
        """200 when allowed; 429 for capacity denials, 403 for governance ones."""
        if self.allow:
            return 200
        return 429 if self.denial_kind == "capacity" else 403


def _expect(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise MalformedDecision(f"decision.{name} has the wrong type: {value!r}")
    return value


def _optional_seconds(raw: dict[str, Any]) -> float | None:
    value = raw.get("timeout_s")
    if value is None:
        return None
    seconds = float(_expect(value, (int, float), "timeout_s"))
    if not 0 < seconds <= 3600:
        raise MalformedDecision(f"decision.timeout_s out of range: {seconds!r}")
    return seconds


def _optional_str(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    return None if value is None else str(_expect(value, str, name))


def _route(value: Any) -> Route | None:
    if value is None:
        return None
    _expect(value, dict, "route")
    cost = value.get("max_cost_usd")
    budget = value.get("context_budget_tokens")
    return Route(
        stream=bool(_expect(value.get("stream", True), bool, "route.stream")),
        max_cost_usd=None if cost is None else float(_expect(cost, (int, float), "route.cost")),
        context_budget_tokens=None if budget is None else int(_expect(budget, int, "route.ctx")),
    )


def parse_decision(raw: Any) -> Decision:
    """Build a Decision from OPA's `result`, raising MalformedDecision on anything unexpected."""
    if not isinstance(raw, dict):
        raise MalformedDecision(f"decision is not an object: {raw!r:.200}")
    allow = _expect(raw.get("allow"), bool, "allow")
    model = _optional_str(raw, "model")
    if allow and not model:
        raise MalformedDecision("decision allows but names no model")
    kind = _optional_str(raw, "denial_kind")
    if kind is not None and kind not in KNOWN_DENIAL_KINDS:
        raise MalformedDecision(f"unknown denial_kind {kind!r}")
    denial = _optional_str(raw, "denial")
    if not allow and not denial:
        raise MalformedDecision("decision denies without a denial code")
    reasons = []
    for item in _expect(raw.get("reasons", []), list, "reasons"):
        _expect(item, dict, "reasons[]")
        reasons.append(
            Reason(
                model=_optional_str(item, "model"),
                reason=str(_expect(item.get("reason"), str, "reasons[].reason")),
                detail=str(item.get("detail", "")),
            )
        )
    costs = _expect(raw.get("estimated_cost_usd", {}), dict, "estimated_cost_usd")
    return Decision(
        allow=allow,
        model=model,
        rule=_optional_str(raw, "rule"),
        denial=denial,
        denial_kind=kind,
        route=_route(raw.get("route")),
        candidates=tuple(str(c) for c in _expect(raw.get("candidates", []), list, "candidates")),
        eligible=tuple(str(c) for c in _expect(raw.get("eligible", []), list, "eligible")),
        reasons=tuple(reasons),
        estimated_cost_usd={
            str(k): float(_expect(v, (int, float), "estimated_cost_usd[]"))
            for k, v in costs.items()
        },
        revision=_optional_str(raw, "revision"),
        timeout_s=_optional_seconds(raw),
    )
