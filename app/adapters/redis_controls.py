"""The kill switch in Redis, so every proxy sharing the store enforces the same state."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

KEY = "symphony:controls"


class RedisControls:
    """Operator controls shared by every proxy on one Redis (read on each decision)."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> RedisControls:
        """Connect lazily (no I/O until the first command)."""
        return cls(redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0))

    def state(self) -> dict[str, Any]:
        """The current state (off when never set)."""
        raw = self._redis.get(KEY)
        state: dict[str, Any] = {"kill_switch": False, "updated_by": None, "updated_at": None}
        if raw:
            state.update(json.loads(raw))
        return state

    def kill_switch(self) -> bool:
        """Whether the kill switch is on."""
        return bool(self.state()["kill_switch"])

    def set_kill_switch(self, on: bool, updated_by: str) -> dict[str, Any]:
        """Store the new state for every proxy."""
        state = {
            "kill_switch": on,
            "updated_by": updated_by,
            "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        self._redis.set(KEY, json.dumps(state))
        return state
