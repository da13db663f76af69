"""Reading OPA's decision strictly: anything unexpected is refused, never trusted."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.decision import MalformedDecision, parse_decision

ALLOWED: dict[str, Any] = {
    "allow": True,
    "model": "local/smollm2",
    "rule": "qa-default",
    "denial": None,
    "denial_kind": None,
    "route": {"stream": True, "max_cost_usd": 0.5, "context_budget_tokens": 8000},
    "candidates": ["hosted/gemini-1.5-pro", "local/smollm2"],
    "eligible": ["local/smollm2"],
    "reasons": [
        {"model": "hosted/gemini-1.5-pro", "reason": "budget_exhausted", "detail": "spent"},
        {"model": "local/smollm2", "reason": "chosen", "detail": "first"},
    ],
    "estimated_cost_usd": {"hosted/gemini-1.5-pro": 0.01, "local/smollm2": 0},
    "revision": "r3-0123456789abcdef",
}


def test_a_whole_decision_round_trips() -> None:
    decision = parse_decision(ALLOWED)
    assert decision.as_dict() == ALLOWED
    assert decision.http_status == 200


@pytest.mark.parametrize(("kind", "status"), [("capacity", 429), ("governance", 403)])
def test_denials_map_to_status_codes(kind: str, status: int) -> None:
    denied = {**ALLOWED, "allow": False, "model": None, "denial": "x", "denial_kind": kind}
    assert parse_decision(denied).http_status == status


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {},
        {**ALLOWED, "allow": "yes"},
        {**ALLOWED, "model": None},
        {**ALLOWED, "allow": False, "denial": None},
        {**ALLOWED, "denial_kind": "mood"},
        {**ALLOWED, "reasons": [{"model": "m"}]},
        {**ALLOWED, "route": {"stream": "yes"}},
        {**ALLOWED, "candidates": "all"},
    ],
)
def test_malformed_answers_are_refused(raw: Any) -> None:
    with pytest.raises(MalformedDecision):
        parse_decision(raw)


def test_the_revision_number_is_read_from_the_bundle_revision() -> None:
    assert parse_decision(ALLOWED).revision_number == 3
    assert parse_decision({**ALLOWED, "revision": None}).revision_number is None
    assert parse_decision({**ALLOWED, "revision": "hand-made"}).revision_number is None
