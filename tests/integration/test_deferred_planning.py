"""When a deferred job is planned: next openings of usage windows in the policy's zone, across
midnight and daylight saving, the budget reset, and the spacing of jobs released together
(pure functions of app/core/deferred.py; the end-to-end path is in test_deferred.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.core.counters import ModelUsage
from app.core.decision import Decision, parse_decision
from app.core.deferred import (
    deferrable,
    next_midnight,
    next_opening,
    planned_opening,
    release_share,
    release_spacing_s,
    window_open,
)
from app.core.policy_view import PolicyView

BERLIN = "Europe/Berlin"
WEEKDAYS = [{"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}]


def at(zone: str, *parts: int, fold: int = 0) -> float:
    """An instant given as a wall-clock time in `zone`."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).timestamp()  # type: ignore[arg-type,misc]


def utc(*parts: int) -> float:
    return at("UTC", *parts)


@pytest.mark.parametrize(
    ("friday", "monday_utc"),
    [
        ((2026, 11, 20, 23, 30), (2026, 11, 23, 8, 0)),  # CET all along
        ((2026, 3, 27, 23, 30), (2026, 3, 30, 7, 0)),  # CET -> CEST on Sunday 29 March
        ((2026, 10, 23, 23, 30), (2026, 10, 26, 8, 0)),  # CEST -> CET on Sunday 25 October
    ],
)
def test_friday_night_opens_monday_nine_berlin_time(
    friday: tuple[int, ...], monday_utc: tuple[int, ...]
) -> None:
    assert next_opening(WEEKDAYS, BERLIN, at(BERLIN, *friday)) == utc(*monday_utc)


def test_a_window_crossing_midnight_opens_at_its_start_and_is_open_after_midnight() -> None:
    night = [{"start": "22:00", "end": "02:00", "days": [5]}]  # Friday night
    assert next_opening(night, BERLIN, at(BERLIN, 2026, 11, 20, 12, 0)) == at(
        BERLIN, 2026, 11, 20, 22, 0
    )
    assert window_open(night, BERLIN, at(BERLIN, 2026, 11, 21, 1, 30))  # Saturday 01:30
    assert not window_open(night, BERLIN, at(BERLIN, 2026, 11, 21, 2, 0))
    # Just after it opened, the next opening is a week later.
    assert next_opening(night, BERLIN, at(BERLIN, 2026, 11, 20, 22, 0)) == at(
        BERLIN, 2026, 11, 27, 22, 0
    )


def test_a_start_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: clocks jump from 02:00 to 03:00 CEST.
    skipped = [{"start": "02:30", "end": "04:00"}]
    opening = next_opening(skipped, BERLIN, at(BERLIN, 2026, 3, 29, 0, 0))
    assert opening == utc(2026, 3, 29, 1, 0)  # 03:00 CEST, the jump
    # A window that ended before the jump does not open that night at all.
    gone = [{"start": "02:15", "end": "02:45", "days": [0]}]
    assert next_opening(gone, BERLIN, at(BERLIN, 2026, 3, 29, 0, 0)) == at(
        BERLIN, 2026, 4, 5, 2, 15
    )


def test_a_start_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 25 October 2026 (CEST, then CET).
    repeated = [{"start": "02:30", "end": "03:30"}]
    first = next_opening(repeated, BERLIN, at(BERLIN, 2026, 10, 25, 0, 0))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_opening(repeated, BERLIN, first) == utc(2026, 10, 25, 1, 30)  # the second


def test_budgets_reset_at_local_midnight() -> None:
    assert next_midnight(BERLIN, at(BERLIN, 2026, 11, 20, 23, 30)) == at(BERLIN, 2026, 11, 21)
    # The night the clocks go back the day has 25 hours; midnight is still midnight.
    assert next_midnight(BERLIN, at(BERLIN, 2026, 10, 25, 12, 0)) == utc(2026, 10, 25, 23, 0)


def policy(**model: object) -> PolicyView:
    base = {
        "name": "hosted/alpha",
        "provider": "p",
        "class": "hosted",
        "context_tokens": 8000,
        "rpm_cap": 60,
        "tpm_cap": 100000,
        "daily_usd_cap": 5.0,
        **model,
    }
    return PolicyView.of(
        {"timezone": BERLIN, "models": [base], "rules": [], "deferred": {"release_share": 0.25}},
        1,
    )


def denied(*reasons: tuple[str | None, str]) -> Decision:
    return parse_decision(
        {
            "allow": False,
            "denial": "no_model_available",
            "denial_kind": "capacity",
            "candidates": ["hosted/alpha"],
            "reasons": [{"model": m, "reason": r, "detail": ""} for m, r in reasons],
        }
    )


def test_a_spent_budget_waits_for_midnight_and_then_for_the_window() -> None:
    view = policy(usage_windows=WEEKDAYS)
    friday_noon = at(BERLIN, 2026, 11, 20, 12, 0)
    decision = denied(("hosted/alpha", "budget_exhausted"))
    opening = planned_opening(decision, view, {}, friday_noon)
    assert opening is not None
    # Midnight falls on Saturday, outside the window: Monday 09:00.
    assert opening.at == at(BERLIN, 2026, 11, 23, 9, 0)
    cooling = denied(("hosted/alpha", "cooling_down"))
    usage = {"hosted/alpha": ModelUsage(cooldown_until=friday_noon + 42)}
    found = planned_opening(cooling, policy(), usage, friday_noon)
    assert found is not None and found.at == friday_noon + 42
    rate = planned_opening(denied(("hosted/alpha", "rpm_exhausted")), policy(), {}, friday_noon)
    assert rate is not None and rate.at == friday_noon + 60


def test_only_capacity_refusals_of_every_candidate_may_wait() -> None:
    assert deferrable(denied(("hosted/alpha", "window_closed")))
    assert deferrable(denied(("hosted/alpha", "budget_reserved")))
    assert not deferrable(denied(("hosted/alpha", "unhealthy")))
    mixed = denied(("hosted/alpha", "window_closed"), ("hosted/alpha", "task_denied"))
    assert not deferrable(mixed)


def test_jobs_released_together_are_spaced_by_the_policys_share_of_the_rpm_cap() -> None:
    assert release_share(policy().document) == 0.25
    assert release_share({}) == 0.5
    assert release_spacing_s(60, 0.25) == 4.0  # 15 a minute
    assert release_spacing_s(1000, 0.5) == 0.12
