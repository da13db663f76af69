"""The kill switch in the store: durable across restarts and the same for every proxy."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.revisions import utc
from app.adapters.sql.tables import controls

KILL_SWITCH = "kill_switch"


class SqlControls:
    """Operator controls read on every decision through a short per-process cache."""

    def __init__(
        self, engine: sa.Engine, ttl_s: float = 0.2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._read_at = float("-inf")

    def state(self) -> dict[str, Any]:
        """The kill switch with who changed it and when (at most ttl_s old)."""
        now = self._clock()
        with self._lock:
            if self._cached is not None and now - self._read_at < self._ttl_s:
                return dict(self._cached)
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(controls).where(controls.c.name == KILL_SWITCH)).first()
        state: dict[str, Any] = {
            "kill_switch": False,
            "updated_by": None,
            "updated_at": None,
            "reason": None,
        }
        if row is not None:
            state = {
                "kill_switch": bool(json.loads(row.value)),
                "updated_by": row.updated_by,
                "updated_at": utc(row.updated_at).isoformat(timespec="milliseconds")
                if row.updated_at
                else None,
                "reason": row.reason,
            }
        with self._lock:
            self._cached, self._read_at = state, now
        return dict(state)

    def kill_switch(self) -> bool:
        """Whether the kill switch is on."""
        return bool(self.state()["kill_switch"])

    def set_kill_switch(self, on: bool, updated_by: str, reason: str | None) -> dict[str, Any]:
        """Store the new state for every proxy; this proxy enforces it at once."""
        now = datetime.now(UTC)
        values = {
            "value": json.dumps(on),
            "updated_by": updated_by[:128],
            "updated_at": now,
            "reason": reason,
        }
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(controls).where(controls.c.name == KILL_SWITCH).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(sa.insert(controls).values(name=KILL_SWITCH, **values))
        with self._lock:
            self._cached = None
        return self.state()

    def import_file(self, path: Path) -> None:
        """Carry the kill switch of the older on-disk file (<data>/controls.json) over once."""
        if not path.is_file():
            return
        with self._engine.connect() as conn:
            known = conn.execute(sa.select(controls.c.name)).first()
        if known is None:
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.set_kill_switch(
                bool(saved.get("kill_switch")),
                str(saved.get("updated_by") or "migrated"),
                "carried over from controls.json",
            )
        path.rename(path.with_suffix(".json.migrated"))
