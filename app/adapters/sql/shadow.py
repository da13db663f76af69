"""The shadow revision: which one (a row of `controls`, the same for every proxy), and how the
live decisions evaluated under it compared with the enforced ones (`shadow_results`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.adapters.sql.revisions import utc
from app.adapters.sql.tables import controls, shadow_results

SHADOW = "shadow_revision"


class SqlShadow:
    """The shadow setting through a 1 s cache, and its results."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any] | None] | None = None

    def current(self) -> dict[str, Any] | None:
        """`{"revision", "since", "set_by"}` or None."""
        now = self._clock()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < 1.0:
                return self._cached[1]
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(controls).where(controls.c.name == SHADOW)).first()
        value: dict[str, Any] | None = None
        if row is not None and json.loads(row.value) is not None:
            value = {
                "revision": int(json.loads(row.value)),
                "since": utc(row.updated_at).isoformat(timespec="milliseconds"),
                "set_by": row.updated_by,
            }
        with self._lock:
            self._cached = (now, value)
        return value

    def set(self, revision: int | None, by: str) -> None:
        """Shadow `revision` (None: no shadow) for every proxy."""
        values = {
            "value": json.dumps(revision),
            "updated_by": by[:128],
            "updated_at": datetime.now(UTC),
            "reason": None,
        }
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(controls).where(controls.c.name == SHADOW).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(sa.insert(controls).values(name=SHADOW, **values))
        with self._lock:
            self._cached = None

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Keep the results of one evaluated batch."""
        if rows:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(shadow_results), list(rows))

    def stats(self, revision: int) -> dict[str, int]:
        """How many live decisions were evaluated under `revision`, how many disagreed."""
        agrees = sa.func.sum(sa.case((shadow_results.c.agrees, 0), else_=1))
        with self._engine.connect() as conn:
            total, disagreed = conn.execute(
                sa.select(sa.func.count(), agrees).where(
                    shadow_results.c.shadow_revision == revision
                )
            ).one()
        return {"evaluated": int(total or 0), "disagreements": int(disagreed or 0)}
