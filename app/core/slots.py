"""Counted slots per client address (connections, websockets)."""

from __future__ import annotations

import threading
from collections import Counter


class ClientSlots:
    """Open connections per client address, capped."""

    def __init__(self, per_client: int) -> None:
        self._per_client = per_client
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        """Count a new connection from `client`; False when it already has its cap."""
        with self._lock:
            if self._open[client] >= self._per_client:
                return False
            self._open[client] += 1
            return True

    def give_back(self, client: str) -> None:
        """A connection from `client` closed."""
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]
