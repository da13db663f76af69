"""Small pure pieces: backoff, percentiles, runway, trace condensing."""

from __future__ import annotations

import pytest

from app.adapters.opa import condense_trace
from app.core.burndown import runway_seconds
from app.core.execution import Backoff
from app.core.latency import percentile


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(base_s=0.1, cap_s=0.3)
    assert backoff.delay(1, lambda: 0.5) == pytest.approx(0.1)
    assert backoff.delay(2, lambda: 0.5) == pytest.approx(0.2)
    assert backoff.delay(5, lambda: 0.5) == pytest.approx(0.3)
    assert backoff.delay(1, lambda: 0.0) == pytest.approx(0.05)
    assert backoff.delay(1, lambda: 1.0) == pytest.approx(0.15)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == 95.0
    assert percentile(values, 50) == 50.0
    assert percentile([], 95) is None


def test_runway() -> None:
    assert runway_seconds(1.0, None, 0.1) is None
    assert runway_seconds(5.0, 5.0, 0.1) == 0.0
    assert runway_seconds(1.0, 5.0, 0.0) is None
    assert runway_seconds(1.0, 5.0, 0.5) == pytest.approx(8.0)


def test_full_traces_drop_backtracking_noise() -> None:
    lines = [
        "query:1      Enter data.x = _",
        "p.rego:5     | Redo data.x",
        "p.rego:5     | Index data.x (matched 1 rule)",
        'p.rego:6     | | Note "hi"',
    ]
    assert condense_trace(lines, full=True) == (
        "query:1  Enter data.x = _",
        'p.rego:6  | | Note "hi"',
    )
    assert len(condense_trace(lines, full=False)) == 4


def test_implausible_upstream_token_counts_are_treated_as_missing() -> None:
    from app.adapters.gateway import reported_usage

    assert reported_usage({"usage": {"prompt_tokens": 12, "completion_tokens": 3}}) == (12, 3)
    hostile = {"usage": {"prompt_tokens": 10**400, "completion_tokens": -1}}
    assert reported_usage(hostile) == (None, None)
    assert reported_usage({"usage": {"prompt_tokens": 1e308, "completion_tokens": True}}) == (
        None,
        None,
    )
    assert reported_usage({"usage": "lots"}) == (None, None)
