"""Calls in flight per model, capped: a hung or slow upstream can hold at most its cap of the
proxy's workers; the next call goes to another candidate or is refused (429), never queued."""

from __future__ import annotations

import threading
from collections import Counter


class InFlight:
    """Per-model counts of calls in flight in this proxy."""

    def __init__(self, default_cap: int) -> None:
        self._default_cap = max(1, default_cap)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def cap(self, model_cap: int | None) -> int:
        """The cap that applies: the model's own, else the proxy's default."""
        return model_cap or self._default_cap

    def try_acquire(self, model: str, model_cap: int | None) -> bool:
        """Take a slot if the model is under its cap; never waits."""
        with self._lock:
            if self._counts[model] >= self.cap(model_cap):
                return False
            self._counts[model] += 1
            return True

    def release(self, model: str) -> None:
        """Give a slot back."""
        with self._lock:
            self._counts[model] -= 1
            if self._counts[model] <= 0:
                del self._counts[model]

    def count(self, model: str) -> int:
        """Calls to `model` in flight now."""
        with self._lock:
            return self._counts[model]
