"""Decision records in the SQL store, written in batches by one background thread.

`add` only appends to a bounded in-memory queue; a thread writes the queue every
`interval_s` (0.5 s), CHUNK records to a transaction with a 1 ms pause between two (one
transaction for an interval's records held the gevent worker's only thread for ~6 ms at
500 requests/s: the tail of every request that arrived meanwhile). A crash loses at most
the records of the last interval; a queue over `max_pending` (a store that cannot keep up)
drops its oldest records and counts them (`dropped`). Reads of this proxy see its own
queued records at once.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.adapters.sql.revisions import utc
from app.adapters.sql.tables import decision_records
from app.core.records import DecisionRecord, RecordQuery

log = logging.getLogger("symphony.records")


def _record(row: Any) -> DecisionRecord:
    return DecisionRecord(
        decision_id=row.decision_id,
        at=utc(row.at).timestamp(),
        source=row.source,
        audit_id=row.audit_id,
        revision=row.revision,
        revision_number=row.revision_number,
        input=json.loads(row.input),
        result=json.loads(row.result),
    )


def _row(record: DecisionRecord) -> dict[str, Any]:
    return {
        "decision_id": record.decision_id[:64],
        "at": datetime.fromtimestamp(record.at, UTC),
        "source": record.source[:16],
        "audit_id": record.audit_id,
        "revision": (record.revision or None) and str(record.revision)[:64],
        "revision_number": record.revision_number,
        "allow": record.allow,
        "model": _text(record.result.get("model")),
        "rule": _text(record.result.get("rule")),
        "denial": _text(record.result.get("denial"), 64),
        "input": json.dumps(record.input, separators=(",", ":"), allow_nan=False),
        "result": json.dumps(record.result, separators=(",", ":"), allow_nan=False),
    }


def _text(value: Any, limit: int = 128) -> str | None:
    return str(value)[:limit] if value is not None else None


def _insert_new(engine: sa.Engine) -> Any:
    """INSERT that skips rows whose decision_id is stored already (SQLite or PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(decision_records).on_conflict_do_nothing(
            index_elements=[decision_records.c.decision_id]
        )
    return sa.insert(decision_records).prefix_with("OR IGNORE", dialect="sqlite")


class SqlDecisionRecords:
    """The batched writer and the reader of decision records."""

    CHUNK = 32
    """Records written in one transaction."""
    PAUSE_S = 0.001
    """The pause between two chunks of a flush."""

    def __init__(
        self,
        engine: sa.Engine,
        interval_s: float = 0.5,
        max_pending: int = 20_000,
        on_written: Callable[[Sequence[DecisionRecord]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._pending: deque[DecisionRecord] = deque()
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one writer at a time: a batch is popped once
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_written = on_written
        # A record already stored (written again after a flush that failed late) is skipped.
        self._insert = _insert_new(engine)
        self.dropped = 0
        self.written = 0

    def add(self, record: DecisionRecord) -> None:
        """Queue a record; the writer thread starts with the first one."""
        with self._lock:
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(record)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="decision-records", daemon=True
                )
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the store is down: keep the records queued, try again
                log.exception("writing decision records failed; retrying")

    def flush(self) -> None:
        """Write what is queued now, CHUNK records to a transaction."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            left = len(self._pending)
        written: list[DecisionRecord] = []
        try:
            while left > 0:
                with self._lock:
                    chunk = list(itertools.islice(self._pending, min(left, self.CHUNK)))
                if not chunk:
                    break
                self._write(chunk)
                with self._lock:
                    # Only the records just written leave the queue: an overflow may have
                    # dropped some of them from its head meanwhile.
                    done = {id(record) for record in chunk}
                    while self._pending and id(self._pending[0]) in done:
                        self._pending.popleft()
                    self.written += len(chunk)
                written += chunk
                left -= len(chunk)
                if left > 0:
                    # Requests in flight run between two chunks: under gevent the worker's
                    # one thread polls its sockets during the pause (sleep(0) would only run
                    # greenlets already ready, not those whose answer has just arrived).
                    time.sleep(self.PAUSE_S)
        finally:
            if written and self._on_written is not None:
                self._on_written(written)

    def _write(self, chunk: list[DecisionRecord]) -> None:
        with self._engine.begin() as conn:
            conn.execute(self._insert, [_row(r) for r in chunk])

    def pending(self) -> int:
        """Records queued and not yet written."""
        with self._lock:
            return len(self._pending)

    def get(self, decision_id: str) -> DecisionRecord | None:
        """One record (queued or written), or None."""
        with self._lock:
            queued = next((r for r in self._pending if r.decision_id == decision_id), None)
        if queued is not None:
            return queued
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(decision_records).where(decision_records.c.decision_id == decision_id)
            ).first()
        return _record(row) if row is not None else None

    def query(self, query: RecordQuery) -> list[DecisionRecord]:
        """Records matching `query`, newest first (this proxy's queue written first)."""
        self.flush()
        table = decision_records
        select = sa.select(table).order_by(table.c.seq.desc()).limit(query.limit)
        for column, value in (
            (table.c.model, query.model),
            (table.c.rule, query.rule),
            (table.c.denial, query.denial),
            (table.c.revision, query.revision),
            (table.c.source, query.source),
        ):
            if value:
                select = select.where(column == value)
        if query.since:
            select = select.where(table.c.at >= query.since)
        if query.until:
            select = select.where(table.c.at < query.until)
        with self._engine.connect() as conn:
            if query.before:
                seq = conn.execute(
                    sa.select(table.c.seq).where(table.c.decision_id == query.before)
                ).scalar()
                if seq is None:
                    return []
                select = select.where(table.c.seq < seq)
            rows = conn.execute(select).all()
        return [_record(row) for row in rows]
