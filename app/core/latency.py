"""Recent latencies per model, for the p95 and TTFB columns of the model matrix."""

from __future__ import annotations

import math
import threading
from collections import deque

KEEP = 256


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by nearest rank, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


class LatencyBook:
    """The last few hundred execute latencies and TTFBs of each model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency: dict[str, deque[float]] = {}
        self._ttfb: dict[str, deque[float]] = {}

    def add(self, model: str, latency_ms: float | None, ttfb_ms: float | None) -> None:
        """Record one call."""
        with self._lock:
            if latency_ms is not None:
                self._latency.setdefault(model, deque(maxlen=KEEP)).append(latency_ms)
            if ttfb_ms is not None:
                self._ttfb.setdefault(model, deque(maxlen=KEEP)).append(ttfb_ms)

    def p95_ms(self, model: str) -> float | None:
        """p95 execute latency."""
        with self._lock:
            return percentile(list(self._latency.get(model, ())), 95)

    def ttfb_p50_ms(self, model: str) -> float | None:
        """Median time to first byte."""
        with self._lock:
            return percentile(list(self._ttfb.get(model, ())), 50)
