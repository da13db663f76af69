"""The in-process counter store: trailing minute, budget day, admission and cooldown."""

from __future__ import annotations

import pytest

from app.core.counters import InMemoryCounterStore, budget_day

M = "hosted/x"


def test_admission_counts_and_stops_at_the_cap() -> None:
    store = InMemoryCounterStore()
    admitted = [store.admit(M, 3, 1000.0 + i) for i in range(5)]
    assert admitted == [True, True, True, False, False]
    assert store.usage([M], 1004.0, "d")[M].rpm == 3


def test_the_minute_is_trailing() -> None:
    store = InMemoryCounterStore()
    assert store.admit(M, 1, 1000.0)
    assert not store.admit(M, 1, 1059.9)
    assert store.admit(M, 1, 1060.0)


def test_tokens_and_dollars() -> None:
    store = InMemoryCounterStore()
    store.record_usage(M, 100, 0.25, 1000.0, "2026-11-25")
    store.record_usage(M, 50, 0.5, 1030.0, "2026-11-25")
    usage = store.usage([M], 1065.0, "2026-11-25")[M]
    assert (usage.tpm, usage.usd_today, usage.tokens_today) == (50, 0.75, 150)
    assert store.usage([M], 1065.0, "2026-11-26")[M].usd_today == 0.0
    spent = store.spend(M, 1010.0, 1065.0)
    assert (spent.usd, spent.tokens) == (0.5, 50)


def test_cooldown_after_consecutive_failures_and_recovery() -> None:
    store = InMemoryCounterStore()
    assert not store.record_failure(M, 1000.0, 3, 60)
    store.record_success(M)
    assert not store.record_failure(M, 1001.0, 3, 60)
    assert not store.record_failure(M, 1002.0, 3, 60)
    assert store.record_failure(M, 1003.0, 3, 60)
    usage = store.usage([M], 1010.0, "d")[M]
    assert usage.cooling_down(1010.0)
    assert not usage.cooling_down(1063.0)


def test_budget_day_follows_the_policy_zone() -> None:
    # 2025-08-29T23:30Z is already the 30th in Berlin (UTC+2 in summer).
    instant = 1756510200.0
    assert budget_day(instant, "UTC") == "2025-08-29"
    assert budget_day(instant, "Europe/Berlin") == "2025-08-30"


def test_memory_stays_bounded_by_seconds_not_requests() -> None:
    store = InMemoryCounterStore()
    start = 1_800_000_000.0
    for i in range(10_000):  # 10,000 calls within 10 seconds
        store.record_usage("m", 3, 0.001, start + i / 1000, "2027-01-15")
    counts = store._models["m"]
    assert len(counts.spends) == 10
    now = start + 10
    usage = store.usage(["m"], now, "2027-01-15")["m"]
    assert usage.tpm == 30_000 and usage.usd_today == pytest.approx(10.0)
    assert store.spend("m", start - 1, now).usd == pytest.approx(10.0)
    later = store.usage(["m"], start + 75, "2027-01-15")["m"]
    assert later.tpm == 0  # the running sum follows the trailing minute
