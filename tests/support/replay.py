"""Replay equality as a property of the whole suite: after a test, every decision its app
recorded is evaluated again under the recorded revision and must equal the record."""

from __future__ import annotations

from collections import defaultdict

from flask import Flask

from app.core.records import DecisionRecord, RecordQuery, differences


def assert_every_record_replays(app: Flask) -> int:
    """Replay every record of `app` (one opa process per revision); returns how many."""
    services = app.extensions["symphony"]
    services.records.flush()
    records: list[DecisionRecord] = services.records.query(RecordQuery(limit=500))
    by_revision: dict[int, list[DecisionRecord]] = defaultdict(list)
    for record in records:
        if record.revision_number is not None:
            by_revision[record.revision_number].append(record)
    for number, recorded in by_revision.items():
        revision = services.policies.revision(number)
        replayed = services.evaluator.decisions(revision, [r.input for r in recorded])
        for record, result in zip(recorded, replayed, strict=True):
            found = differences(dict(record.result), result)
            assert not found, f"decision {record.decision_id} replays differently at {found}"
    return sum(len(v) for v in by_revision.values())
