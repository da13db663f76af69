"""The durable store against a real SQLite file and a real PostgreSQL server: the migrated
schema, concurrent migrators, revision compare-and-swap, run reports, sidecar statuses and the
carry-over of the old per-file policy versions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.adapters.opa_check import OpaCompiler, read_router_modules
from app.adapters.sql.controls import SqlControls
from app.adapters.sql.database import MIGRATIONS, database_url, migrate, open_engine
from app.adapters.sql.records import SqlDecisionRecords
from app.adapters.sql.revisions import SqlRevisionStore
from app.adapters.sql.run_reports import RunReportNotStored, SqlRunReports
from app.adapters.sql.sidecars import SqlSidecarStatuses
from app.adapters.sql.tables import metadata
from app.core.bundles import SidecarStatus
from app.core.policy_document import PolicyValidator
from app.core.policy_service import PolicyService
from app.core.records import DecisionRecord
from app.core.revisions import Draft, Revision, StaleRevision, content_hash
from tests.support.postgres import Postgres, running_postgres
from tests.support.processes import ROOT, tool

T = TypeVar("T")
BACKENDS = ["sqlite", "postgresql"]
EXAMPLE = ROOT / "policy" / "examples" / "default.json"
JOIN_TIMEOUT_S = 30.0
GUARD = 'package symphony.guards.pii\n\ndeny contains {"reason": "pii"} if input.request.pii\n'
GUARD_TEST = "package guard_tests.pii_test\n\ntest_nothing if true\n"


@pytest.fixture(scope="module")
def postgres(logs_dir: Path) -> Iterator[Postgres]:
    """One real PostgreSQL server for the module; every test gets its own database on it."""
    with running_postgres(logs_dir) as server:
        yield server


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return database_url(None, tmp_path / "data")
    server: Postgres = request.getfixturevalue("postgres")
    return database_url(server.new_database(f"t_{uuid.uuid4().hex[:16]}"), tmp_path)


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    """An engine on the fresh database, not migrated yet."""
    engine = open_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(engine: sa.Engine) -> sa.Engine:
    """The engine, its database migrated to head."""
    migrate(engine)
    return engine


@pytest.fixture
def revisions(migrated: sa.Engine) -> SqlRevisionStore:
    """A revision store over the migrated database."""
    return SqlRevisionStore(migrated)


def example_policy(label: str) -> dict[str, Any]:
    """The example policy document under version label `label`."""
    document: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    document["version"] = label
    return document


def draft(label: str, parent: int | None = None, author: str = "alice") -> Draft:
    """A draft of the example policy labelled `label`."""
    return Draft(example_policy(label), {}, {}, author, f"req-{label}", None, "document", parent)


def schema_differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would change to make the database match tables.metadata."""
    with engine.connect() as conn:
        differences: list[Any] = compare_metadata(MigrationContext.configure(conn), metadata)
        return differences


def schema_version(engine: sa.Engine) -> list[str]:
    """The revisions recorded in alembic_version."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def head() -> str:
    """The newest migration."""
    current = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert current is not None
    return current


def in_threads(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run work(0..count-1) in real threads released together; each result or exception."""
    barrier = threading.Barrier(count)
    results: dict[int, T | BaseException] = {}

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_S)
            results[index] = work(index)
        except BaseException as exc:  # handed back to the test, which asserts on it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"store-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return [results[index] for index in range(count)]


# ---- schema ----------------------------------------------------------------------------------


def test_fresh_database_migrated_to_head_matches_metadata(engine: sa.Engine) -> None:
    migrate(engine)

    assert schema_differences(engine) == []
    assert schema_version(engine) == [head()]


def test_database_upgraded_from_0001_matches_metadata_and_keeps_revisions(
    engine: sa.Engine,
) -> None:
    document = example_policy("from-0001")
    migrate(engine, "0001")
    assert schema_version(engine) == ["0001"]
    # What the first release wrote, in plain SQL: nothing of today's adapters is involved.
    stored_at = "2026-11-20 10:00:00+00:00"
    if engine.dialect.name == "sqlite":
        stored_at = "2026-11-20 10:00:00.000000"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO policy_revisions (number, hash, document, guards, tests, created_by,"
                " created_at, request_id, reason, source, parent) VALUES (1, :hash, :document,"
                " '{}', '{}', 'alice', :at, 'req-1', 'first', 'seed', NULL)"
            ),
            {
                "hash": content_hash(document, {}, {}),
                "document": json.dumps(document),
                "at": stored_at,
            },
        )
        conn.execute(
            sa.text(
                "INSERT INTO policy_active (id, revision, activated_at, activated_by)"
                " VALUES (1, 1, :at, 'alice')"
            ),
            {"at": stored_at},
        )

    migrate(engine)

    assert schema_version(engine) == [head()]
    assert schema_differences(engine) == []
    store = SqlRevisionStore(engine)
    pointer = store.active()
    assert pointer is not None
    assert pointer.revision == 1
    assert store.get(1) == Revision(
        number=1,
        hash=content_hash(document, {}, {}),
        document=document,
        guards={},
        tests={},
        created_by="alice",
        created_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        request_id="req-1",
        reason="first",
        source="seed",
        parent=None,
    )


def test_migrate_is_idempotent_and_safe_when_proxies_start_together(url: str) -> None:
    engines = [open_engine(url) for _ in range(3)]
    try:
        outcomes = in_threads(3, lambda i: migrate(engines[i]))
        assert outcomes == [None, None, None]
        migrate(engines[0])

        assert schema_version(engines[0]) == [head()]
        assert schema_differences(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()


# ---- policy revisions ------------------------------------------------------------------------


def test_first_activation_creates_revision_one_and_only_once(revisions: SqlRevisionStore) -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    first = revisions.activate_new(draft("one"), None, now)
    with pytest.raises(StaleRevision):
        revisions.activate_new(draft("again"), None, now)

    assert first.number == 1
    pointer = revisions.active()
    assert pointer is not None
    assert (pointer.revision, pointer.activated_at, pointer.activated_by) == (1, now, "alice")
    assert [r.number for r in revisions.listing(10, None)] == [1]


def test_concurrent_first_activations_leave_one_revision(revisions: SqlRevisionStore) -> None:
    now = datetime.now(UTC)
    drafts = [draft(f"first-{i}", author=f"writer-{i}") for i in range(8)]

    outcomes = in_threads(8, lambda i: revisions.activate_new(drafts[i], None, now))

    winners = [o for o in outcomes if isinstance(o, Revision)]
    assert len(outcomes) == 8
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, StaleRevision) for o in outcomes if o is not winners[0]), outcomes
    assert [r.number for r in revisions.listing(10, None)] == [1]
    assert revisions.get(1) == winners[0]


def test_concurrent_writers_from_the_same_revision_exactly_one_wins(
    revisions: SqlRevisionStore,
) -> None:
    now = datetime.now(UTC)
    revisions.activate_new(draft("base"), None, now)
    drafts = [draft(f"edit-{i}", parent=1, author=f"writer-{i}") for i in range(8)]

    outcomes = in_threads(8, lambda i: revisions.activate_new(drafts[i], 1, now))

    winners = [o for o in outcomes if isinstance(o, Revision)]
    assert len(outcomes) == 8
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, StaleRevision) for o in outcomes if o is not winners[0]), outcomes
    assert [r.number for r in revisions.listing(10, None)] == [2, 1]
    pointer = revisions.active()
    assert pointer is not None
    assert (pointer.revision, pointer.activated_by) == (2, winners[0].created_by)
    assert revisions.get(2) == winners[0]
    assert winners[0].parent == 1


def test_listing_is_newest_first_and_pages_with_before(revisions: SqlRevisionStore) -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for number in range(1, 6):
        expected = number - 1 if number > 1 else None
        revisions.activate_new(draft(f"v{number}"), expected, start + timedelta(minutes=number))

    def numbers(limit: int, before: int | None) -> list[int]:
        return [r.number for r in revisions.listing(limit, before)]

    assert numbers(10, None) == [5, 4, 3, 2, 1]
    assert numbers(2, None) == [5, 4]
    assert numbers(2, 4) == [3, 2]
    assert numbers(2, 2) == [1]
    assert numbers(2, 1) == []
    assert [r.document["version"] for r in revisions.listing(2, 4)] == ["v3", "v2"]


def test_revision_round_trips_every_field(revisions: SqlRevisionStore) -> None:
    created = datetime(2026, 11, 20, 10, 30, 15, 123000, tzinfo=UTC)
    revisions.activate_new(draft("base"), None, created - timedelta(days=1))
    document = example_policy("Ünïcode ✓")
    document["description"] = 'quotes " and \\ backslashes, newline\n'
    change = Draft(
        document=document,
        guards={"pii": GUARD},
        tests={"pii_test": GUARD_TEST},
        created_by="gov-team",
        request_id="req-42",
        reason="block PII on hosted models",
        source="guard",
        parent=1,
    )

    written = revisions.activate_new(change, 1, created)
    read = revisions.get(2)

    assert read == written
    assert read is not None
    assert read.document == document
    assert dict(read.guards) == {"pii": GUARD}
    assert dict(read.tests) == {"pii_test": GUARD_TEST}
    assert read.hash == content_hash(document, {"pii": GUARD}, {"pii_test": GUARD_TEST})
    assert read.created_at == created
    assert read.created_at.utcoffset() == timedelta(0)
    assert (read.reason, read.parent, read.source) == ("block PII on hosted models", 1, "guard")
    assert (read.created_by, read.request_id) == ("gov-team", "req-42")
    assert revisions.get(3) is None


def test_a_time_with_another_offset_is_stored_as_the_same_instant(
    revisions: SqlRevisionStore,
) -> None:
    created = datetime(2026, 11, 20, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    revisions.activate_new(draft("one"), None, created)

    read = revisions.get(1)
    assert read is not None
    assert read.created_at == created


def test_times_read_in_another_session_time_zone_are_utc(
    postgres: Postgres, tmp_path: Path
) -> None:
    # A PostgreSQL server whose TimeZone is local time hands timestamptz back in that zone.
    berlin = postgres.new_database(f"t_{uuid.uuid4().hex[:16]}")
    engine = open_engine(database_url(berlin, tmp_path) + "?options=-c%20TimeZone%3DEurope/Berlin")
    try:
        migrate(engine)
        store = SqlRevisionStore(engine)
        created = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        store.activate_new(draft("one"), None, created)

        read = store.get(1)
        pointer = store.active()

        assert read is not None
        assert pointer is not None
        assert read.created_at == created
        assert read.created_at.utcoffset() == timedelta(0)
        assert pointer.activated_at.utcoffset() == timedelta(0)
        assert read.summary()["updated_at"] == "2026-11-20T10:00:00.000+00:00"
    finally:
        engine.dispose()


# ---- run reports -----------------------------------------------------------------------------


def test_run_report_round_trips(migrated: sa.Engine) -> None:
    reports = SqlRunReports(migrated)
    report = {
        "audit_id": "run_20261120T101500Z_0123456789ab",
        "model": "local/smollm2",
        "text": "Grüße, ✓",
        "attempts": [{"model": "hosted/alpha", "status": 503}],
    }

    reports.append("run_20261120T101500Z_0123456789ab", lambda: report)

    assert reports.get("run_20261120T101500Z_0123456789ab") == report  # queued, seen at once
    assert reports.flush()
    assert reports.waiting() == 0
    stored = SqlRunReports(migrated)  # another proxy reads the store
    assert stored.get("run_20261120T101500Z_0123456789ab") == report
    assert stored.get("run_20261120T101500Z_ffffffffffff") is None
    assert stored.get("../etc/passwd") is None


def _lock_run_reports(engine: sa.Engine) -> Any:
    """Another connection holding the run_reports table (SQLite: the whole database)."""
    raw = engine.raw_connection()
    cursor = raw.cursor()
    if engine.dialect.name == "sqlite":
        raw.driver_connection.isolation_level = None  # type: ignore[union-attr]
        cursor.execute("BEGIN EXCLUSIVE")
    else:
        cursor.execute("LOCK TABLE run_reports IN ACCESS EXCLUSIVE MODE")
    return raw


def test_reports_wait_out_a_stalled_store_and_new_runs_are_refused_meanwhile(
    migrated: sa.Engine,
) -> None:
    reports = SqlRunReports(migrated)
    reports.STALL_S = 0.3
    first = {"audit_id": "run_20261127T120000Z_0123456789ab", "status": "ok"}
    lock = _lock_run_reports(migrated)
    try:
        reports.append(first["audit_id"], lambda: first)
        reports.admit()  # just queued: still within the window
        assert reports.get(first["audit_id"]) == first
        time.sleep(0.5)
        with pytest.raises(RunReportNotStored, match=r"no run report committed for 0\.3 s"):
            reports.admit()
        assert reports.waiting() == 1
    finally:
        lock.rollback()
        lock.close()
    assert reports.flush(timeout_s=30)
    reports.admit()
    assert SqlRunReports(migrated).get(first["audit_id"]) == first


def test_a_backlog_of_reports_is_committed_a_batch_to_a_transaction(migrated: sa.Engine) -> None:
    sizes: list[int] = []

    @sa.event.listens_for(migrated, "before_cursor_execute")
    def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT") and "run_reports" in statement:
            sizes.append(len(params) if many else 1)

    reports = SqlRunReports(migrated)
    ids = [f"run_20261128T090000Z_{n:012x}" for n in range(2 * SqlRunReports.MAX_BATCH + 5)]
    built_at_append: list[bool] = []
    lock = _lock_run_reports(migrated)  # the store stalls while the backlog builds up
    try:
        for audit_id in ids:
            built: list[str] = []

            def build(built: list[str] = built) -> dict[str, Any]:
                built.append(threading.current_thread().name)
                return {"status": "ok"}

            reports.append(audit_id, build)
            built_at_append.append(bool(built))
        time.sleep(0.2)
    finally:
        lock.rollback()
        lock.close()
    assert reports.flush(timeout_s=30)
    # Every report stored once; no transaction (tried or committed) held more than a batch.
    assert max(sizes) == SqlRunReports.MAX_BATCH
    # Once a batch is waiting, a report is built as it is queued (not a whole run held).
    assert built_at_append[SqlRunReports.MAX_BATCH :] == [True] * (SqlRunReports.MAX_BATCH + 5)
    with migrated.connect() as conn:
        stored = conn.execute(sa.text("SELECT audit_id FROM run_reports")).scalars().all()
    assert sorted(stored) == ids


def test_reports_are_built_once_by_the_writer_off_the_request_path(migrated: sa.Engine) -> None:
    reports = SqlRunReports(migrated)
    built_in: list[str] = []

    def build() -> dict[str, Any]:
        built_in.append(threading.current_thread().name)
        return {"status": "ok"}

    def broken() -> dict[str, Any]:
        raise KeyError("a report that cannot be built")

    reports.append("run_20261128T090001Z_0123456789ab", build)
    reports.append("run_20261128T090002Z_0123456789ab", broken)
    assert reports.flush()
    assert built_in == ["run-reports"]  # not by the caller of append()
    assert reports.dropped == 1  # logged and dropped, the writer goes on
    stored = SqlRunReports(migrated)
    assert stored.get("run_20261128T090001Z_0123456789ab") == {"status": "ok"}
    assert stored.get("run_20261128T090002Z_0123456789ab") is None


def test_a_report_the_store_refuses_is_dropped_and_the_others_are_kept(
    migrated: sa.Engine,
) -> None:
    reports = SqlRunReports(migrated)
    good: dict[str, Any] = {"audit_id": "run_20261127T120001Z_0123456789ab", "n": 1}
    reports.append("run_20261127T120002Z_0123456789ab", lambda: {"n": float("nan")})
    reports.append(good["audit_id"], lambda: good)
    assert reports.flush()
    assert reports.dropped == 1
    assert SqlRunReports(migrated).get(good["audit_id"]) == good


def test_import_folder_carries_old_reports_over_once(migrated: sa.Engine, tmp_path: Path) -> None:
    reports = SqlRunReports(migrated)
    folder = tmp_path / "runs"
    old = {
        "run_20261119T235959Z_00000000000a": {"model": "hosted/alpha", "n": 1},
        "run_20261120T000001Z_00000000000b": {"model": "local/gamma", "n": 2},
    }
    for audit_id, body in old.items():
        day = folder / audit_id[4:12]
        day.mkdir(parents=True, exist_ok=True)
        (day / f"{audit_id}.json").write_text(json.dumps({"audit_id": audit_id, **body}))
    malformed = [
        "run_20261120T000001Z_00000000000B",  # upper-case hex
        "run_20261120T0000Z_00000000000c",  # short time
        "run_20261120T000001Z_0000000000d",  # 11 hex digits
    ]
    for audit_id in malformed:
        (folder / "20261120" / f"{audit_id}.json").write_text("{}")
    already = {"audit_id": "run_20261120T120000Z_0000000000ee", "kept": "the stored one"}
    reports.append(already["audit_id"], lambda: already)
    assert reports.flush()
    (folder / "20261120" / f"{already['audit_id']}.json").write_text(
        json.dumps({**already, "kept": "the old file"})
    )

    assert reports.import_folder(folder) == 2
    assert reports.import_folder(folder) == 0
    for audit_id, body in old.items():
        assert reports.get(audit_id) == {"audit_id": audit_id, **body}
    assert reports.get(already["audit_id"]) == already
    with migrated.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT audit_id FROM run_reports")).scalars())
    assert stored == {*old, already["audit_id"]}
    assert reports.import_folder(tmp_path / "missing") == 0


# ---- carrying the old per-file policy versions over ------------------------------------------


def policy_service(store: SqlRevisionStore) -> PolicyService:
    """A PolicyService wired as app/bootstrap.py wires it."""
    schema = json.loads((ROOT / "schemas" / "policy.schema.json").read_text(encoding="utf-8"))
    compiler = OpaCompiler(tool("opa"), read_router_modules(ROOT / "policy" / "rego"))
    return PolicyService(PolicyValidator(schema), store, compiler)


def write_legacy(folder: Path, version: int, author: str, at: str, label: str) -> dict[str, Any]:
    """One file of the old store (<data>/policy/NNNNNN.json); returns its document."""
    document = example_policy(label)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version:06d}.json").write_text(
        json.dumps(
            {
                "version": version,
                "updated_by": author,
                "request_id": f"req-{version}",
                "updated_at": at,
                "label": label,
                "document": document,
            }
        )
    )
    return document


def test_bootstrap_carries_old_policy_versions_over_once(
    revisions: SqlRevisionStore, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "policy"
    first = write_legacy(folder, 1, "alice", "2026-11-01T09:00:00.000+00:00", "2026.11.1")
    second = write_legacy(folder, 2, "bob", "2026-11-02T17:30:00.250+00:00", "2026.11.2")
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(example_policy("seed")))
    service = policy_service(revisions)

    view = service.bootstrap(seed, folder)

    assert (view.revision, view.document) == (2, second)
    one, two = revisions.get(1), revisions.get(2)
    assert one is not None
    assert two is not None
    assert (one.created_by, one.request_id, one.document) == ("alice", "req-1", first)
    assert (two.created_by, two.request_id, two.document) == ("bob", "req-2", second)
    assert one.created_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert two.created_at == datetime(2026, 11, 2, 17, 30, 0, 250000, tzinfo=UTC)
    assert (one.source, two.reason) == ("migrated", "migrated from 000002.json")
    assert one.hash == content_hash(first, {}, {})
    pointer = revisions.active()
    assert pointer is not None
    assert pointer.revision == 2
    listed = [r.as_dict() for r in revisions.listing(10, None)]

    again = policy_service(revisions).bootstrap(seed, folder)

    assert again.revision == 2
    assert revisions.active() == pointer
    assert [r.as_dict() for r in revisions.listing(10, None)] == listed


def test_bootstrap_seeds_an_empty_store_without_old_versions(
    revisions: SqlRevisionStore, tmp_path: Path
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(example_policy("seed")))

    view = policy_service(revisions).bootstrap(seed, tmp_path / "no-policy-folder")

    assert view.revision == 1
    stored = revisions.get(1)
    assert stored is not None
    assert (stored.source, stored.created_by, stored.document) == (
        "seed",
        "bootstrap",
        example_policy("seed"),
    )


def test_bootstrap_retried_after_a_broken_old_version_file(
    revisions: SqlRevisionStore, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "policy"
    write_legacy(folder, 1, "alice", "2026-11-01T09:00:00.000+00:00", "2026.11.1")
    (folder / "000002.json").write_text('{"version": 2, "updated_by": "bob"')  # torn write
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(example_policy("seed")))
    with pytest.raises(json.JSONDecodeError):
        policy_service(revisions).bootstrap(seed, folder)
    # The operator repairs the file and restarts the proxy.
    second = write_legacy(folder, 2, "bob", "2026-11-02T17:30:00.000+00:00", "2026.11.2")

    view = policy_service(revisions).bootstrap(seed, folder)

    assert (view.revision, view.document) == (2, second)
    assert [r.number for r in revisions.listing(10, None)] == [2, 1]


# ---- sidecar statuses ------------------------------------------------------------------------


def test_sidecar_record_keeps_one_row_per_name_with_the_newest_report(
    migrated: sa.Engine,
) -> None:
    statuses = SqlSidecarStatuses(migrated)
    first_at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    older = SidecarStatus("opa-a", "r1-aaaa", ({"code": "bundle_error"},), "1.0.0", first_at)
    newer = SidecarStatus("opa-a", "r2-bbbb", (), "1.1.0", first_at + timedelta(seconds=30))
    other = SidecarStatus("opa-b", None, (), None, first_at + timedelta(seconds=5))

    statuses.record(older)
    statuses.record(other)
    statuses.record(newer)

    assert statuses.all() == [newer, other]


def test_sidecar_first_reports_racing_leave_one_row(migrated: sa.Engine) -> None:
    statuses = SqlSidecarStatuses(migrated)
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    reports = [SidecarStatus("opa-a", f"r{i}-x", (), "1.0.0", at) for i in range(8)]

    outcomes = in_threads(8, lambda i: statuses.record(reports[i]))

    assert outcomes == [None] * 8
    stored = statuses.all()
    assert len(stored) == 1
    assert stored[0] in reports


# ---- the kill switch ---------------------------------------------------------------------


def test_the_kill_switch_is_shared_by_every_proxy_on_the_store(migrated: sa.Engine) -> None:
    clock = [0.0]
    mine, theirs = SqlControls(migrated), SqlControls(migrated, clock=lambda: clock[0])
    assert theirs.state() == {
        "kill_switch": False,
        "updated_by": None,
        "updated_at": None,
        "reason": None,
    }
    state = mine.set_kill_switch(True, "ops", "drill")
    assert (state["kill_switch"], state["updated_by"]) == (True, "ops")
    assert mine.kill_switch() is True  # the writer enforces it at once
    assert theirs.kill_switch() is False  # the other proxy's cache is still fresh...
    clock[0] += 0.25
    assert theirs.kill_switch() is True  # ...and expires within ttl_s
    assert datetime.fromisoformat(theirs.state()["updated_at"]).tzinfo is not None
    mine.set_kill_switch(False, "ops", "over")
    assert SqlControls(migrated).state()["kill_switch"] is False


def test_the_old_kill_switch_file_is_carried_over_once(migrated: sa.Engine, tmp_path: Path) -> None:
    old = tmp_path / "controls.json"
    old.write_text(json.dumps({"kill_switch": True, "updated_by": "night-shift"}))
    controls = SqlControls(migrated)
    controls.import_file(old)
    assert (controls.state()["kill_switch"], controls.state()["updated_by"]) == (
        True,
        "night-shift",
    )
    assert not old.exists() and old.with_suffix(".json.migrated").exists()
    controls.import_file(old)  # nothing left to import
    assert controls.kill_switch() is True


def test_decision_records_are_written_a_chunk_to_a_transaction_and_once_each(
    migrated: sa.Engine,
) -> None:
    sizes: list[int] = []

    @sa.event.listens_for(migrated, "before_cursor_execute")
    def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT") and "decision_records" in statement:
            sizes.append(len(params) if many else 1)

    batches: list[list[str]] = []
    records = SqlDecisionRecords(
        migrated, interval_s=3600, on_written=lambda b: batches.append([r.decision_id for r in b])
    )

    def record(decision_id: str) -> DecisionRecord:
        result = {"allow": True, "model": "m", "rule": "r", "denial": None}
        return DecisionRecord(decision_id, time.time(), "plan", None, "r1-x", 1, {"n": 1}, result)

    ids = [str(uuid.uuid4()) for _ in range(2 * SqlDecisionRecords.CHUNK + 5)]
    for decision_id in ids:
        records.add(record(decision_id))
    records.flush()
    # Every record written, no transaction holding more than a chunk of them, the shadow
    # runner called once with the whole interval in order.
    assert sum(sizes) == len(ids) and max(sizes) == SqlDecisionRecords.CHUNK
    assert len(sizes) == 3 and batches == [ids]
    assert records.pending() == 0 and records.written == len(ids)
    # A record already stored is skipped, not an error that would keep the queue stuck.
    again, fresh = record(ids[0]), record(str(uuid.uuid4()))
    records.add(again)
    records.add(fresh)
    records.flush()
    assert records.pending() == 0
    with migrated.connect() as conn:
        stored = conn.execute(sa.text("SELECT decision_id FROM decision_records")).scalars().all()
    assert sorted(stored) == sorted([*ids, fresh.decision_id])
    found = records.get(ids[-1])
    assert found is not None and found.input == {"n": 1} and found.result["model"] == "m"
