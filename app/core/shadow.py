"""Shadow policies: live decisions evaluated again under a shadow revision, off the request
path (by the decision-record writer, one batch at a time), never enforced; disagreements are
counted and kept."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from app.core.records import DecisionRecord, disagreement

log = logging.getLogger("symphony.shadow")

# At most this many decisions of one batch are evaluated (the rest are skipped and counted):
# a burst of traffic costs the shadow bounded work.
MAX_PER_BATCH = 500


class ShadowStore(Protocol):
    """The shadow setting and its results."""

    def current(self) -> dict[str, Any] | None:
        """`{"revision", "since", "set_by"}` or None."""
        ...

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Keep the results of one batch."""
        ...


class ShadowRunner:
    """Evaluates each written batch of decision records under the shadow revision."""

    def __init__(
        self,
        store: ShadowStore,
        evaluate: Callable[[int, list[Mapping[str, Any]]], list[dict[str, Any]]],
        on_disagreement: Callable[[str, str], None],
        on_skipped: Callable[[int], None] = lambda count: None,
    ) -> None:
        self._store = store
        self._evaluate = evaluate
        self._on_disagreement = on_disagreement
        self._on_skipped = on_skipped

    def __call__(self, batch: Sequence[DecisionRecord]) -> None:
        """Evaluate a batch (called by the record writer's thread)."""
        shadow = self._store.current()
        if shadow is None:
            return
        number = int(shadow["revision"])
        live = [r for r in batch if r.revision_number != number]
        if len(live) > MAX_PER_BATCH:
            self._on_skipped(len(live) - MAX_PER_BATCH)
            live = live[:MAX_PER_BATCH]
        if not live:
            return
        try:
            results = self._evaluate(number, [r.input for r in live])
        except Exception:
            log.exception("shadow evaluation under revision %d failed", number)
            return
        now = datetime.now(UTC)
        rows = []
        for record, result in zip(live, results, strict=True):
            kind = disagreement(record.result, result)
            if kind is not None:
                self._on_disagreement(str(record.result.get("rule") or "none"), kind)
            rows.append(
                {
                    "decision_id": record.decision_id,
                    "shadow_revision": number,
                    "at": now,
                    "agrees": kind is None,
                    "kind": kind or "agrees",
                    "rule": (record.result.get("rule") or None),
                    "result": json.dumps(result, separators=(",", ":")),
                }
            )
        self._store.record(rows)
