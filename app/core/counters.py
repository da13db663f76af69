"""Live counters per model: the interface, its value types and the in-process store."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from app.core.ports import Probe

WINDOW_S = 60.0
SPEND_HISTORY_S = 86_400.0


@dataclass(frozen=True)
class ModelUsage:
    """What one model has used: trailing-minute requests and tokens, dollars today, health."""

    rpm: int = 0
    tpm: int = 0
    usd_today: float = 0.0
    tokens_today: int = 0
    consecutive_failures: int = 0
    cooldown_until: float | None = None

    def cooling_down(self, now: float) -> bool:
        """Whether the model is in a cooldown at `now`."""
        return self.cooldown_until is not None and self.cooldown_until > now


@dataclass(frozen=True)
class Spend:
    """Dollars and tokens spent over some period."""

    usd: float = 0.0
    tokens: int = 0


class CounterStoreUnavailable(Exception):
    """The counter store (Redis) did not answer: nothing is routed without live counts."""


def budget_day(now: float, timezone: str) -> str:
    """The budget day (`YYYY-MM-DD`) that `now` falls in, in the policy's time zone."""
    return datetime.fromtimestamp(now, ZoneInfo(timezone)).date().isoformat()


class CounterStore(Protocol):
    """Counts requests, tokens, dollars and failures per model."""

    @property
    def persistent(self) -> bool:
        """Whether counts survive a restart of the proxy."""
        ...

    def usage(self, models: Iterable[str], now: float, day: str) -> dict[str, ModelUsage]:
        """Current usage of each named model."""
        ...

    def admit(self, model: str, rpm_cap: int, now: float) -> bool:
        """Atomically count one request if fewer than `rpm_cap` were made in the last 60 s."""
        ...

    def record_usage(self, model: str, tokens: int, usd: float, now: float, day: str) -> None:
        """Add a finished call's tokens and dollars."""
        ...

    def record_failure(self, model: str, now: float, threshold: int, cooldown_s: float) -> bool:
        """Count a failure; start a cooldown (and return True) when `threshold` is reached."""
        ...

    def record_success(self, model: str) -> None:
        """Reset the model's consecutive failures."""
        ...

    def spend(self, model: str, since: float, now: float) -> Spend:
        """Dollars and tokens spent by `model` in (since, now] (kept for 24 h)."""
        ...

    def probe(self) -> Probe:
        """Check the store's health."""
        ...


class _ModelCounts:
    """One model's counts. Tokens in the trailing minute are a running sum (no scan per
    request); spend history is kept in one-second buckets, so a day of traffic is at most
    86,400 entries per model whatever the request rate."""

    __slots__ = (
        "cooldown_until",
        "failures",
        "requests",
        "spends",
        "token_sum",
        "tokens",
        "usd_by_day",
    )

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.token_sum = 0
        self.spends: deque[list[float]] = deque()  # [second, usd, tokens]
        self.usd_by_day: dict[str, tuple[float, int]] = {}
        self.failures = 0
        self.cooldown_until: float | None = None

    def prune(self, now: float) -> None:
        edge = now - WINDOW_S
        while self.requests and self.requests[0] <= edge:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= edge:
            self.token_sum -= self.tokens.popleft()[1]
        old = now - SPEND_HISTORY_S
        while self.spends and self.spends[0][0] <= old:
            self.spends.popleft()

    def add(self, now: float, tokens: int, usd: float) -> None:
        self.tokens.append((now, tokens))
        self.token_sum += tokens
        second = float(int(now))
        if self.spends and self.spends[-1][0] == second:
            self.spends[-1][1] += usd
            self.spends[-1][2] += tokens
        else:
            self.spends.append([second, usd, float(tokens)])


class InMemoryCounterStore:
    """Counters for a single proxy process; they reset when it restarts."""

    persistent = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, _ModelCounts] = {}

    def _get(self, model: str) -> _ModelCounts:
        counts = self._models.get(model)
        if counts is None:
            counts = self._models[model] = _ModelCounts()
        return counts

    def usage(self, models: Iterable[str], now: float, day: str) -> dict[str, ModelUsage]:
        """Current usage of each named model."""
        out: dict[str, ModelUsage] = {}
        with self._lock:
            for name in models:
                counts = self._get(name)
                counts.prune(now)
                usd, tokens = counts.usd_by_day.get(day, (0.0, 0))
                out[name] = ModelUsage(
                    rpm=len(counts.requests),
                    tpm=counts.token_sum,
                    usd_today=usd,
                    tokens_today=tokens,
                    consecutive_failures=counts.failures,
                    cooldown_until=counts.cooldown_until,
                )
        return out

    def admit(self, model: str, rpm_cap: int, now: float) -> bool:
        """Atomically count one request if the trailing minute has room."""
        with self._lock:
            counts = self._get(model)
            counts.prune(now)
            if len(counts.requests) >= rpm_cap:
                return False
            counts.requests.append(now)
            return True

    def record_usage(self, model: str, tokens: int, usd: float, now: float, day: str) -> None:
        """Add a finished call's tokens and dollars."""
        with self._lock:
            counts = self._get(model)
            counts.add(now, tokens, usd)
            prev_usd, prev_tokens = counts.usd_by_day.get(day, (0.0, 0))
            counts.usd_by_day = {day: (prev_usd + usd, prev_tokens + tokens)}

    def record_failure(self, model: str, now: float, threshold: int, cooldown_s: float) -> bool:
        """Count a failure; start a cooldown when the threshold is reached."""
        with self._lock:
            counts = self._get(model)
            counts.failures += 1
            if counts.failures >= threshold:
                counts.failures = 0
                counts.cooldown_until = now + cooldown_s
                return True
            return False

    def record_success(self, model: str) -> None:
        """Reset consecutive failures."""
        with self._lock:
            self._get(model).failures = 0

    def spend(self, model: str, since: float, now: float) -> Spend:
        """Dollars and tokens spent in (since, now]."""
        with self._lock:
            counts = self._get(model)
            counts.prune(now)
            usd = 0.0
            tokens = 0.0
            # Buckets are whole seconds: a bucket counts when its second is in (since, now].
            for second, amount, count in counts.spends:
                if since < second + 1 and second <= now:
                    usd += amount
                    tokens += count
            return Spend(usd, int(tokens))

    def probe(self) -> Probe:
        """Always healthy: it lives in this process."""
        started = time.perf_counter()
        with self._lock:
            pass
        return Probe(
            "counters",
            True,
            (time.perf_counter() - started) * 1000,
            "in-process store: counters reset when the proxy restarts",
        )
