"""Opening the store: an engine for SQLite (WAL) or PostgreSQL, migrated to head on start."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.core.ports import Probe

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every proxy of a fleet.
_PG_MIGRATION_LOCK = 0x53594D50


def database_url(configured: str | None, data_dir: Path) -> str:
    """SYMPHONY_DATABASE_URL, or the embedded SQLite file under the data directory."""
    if configured:
        if configured.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            return "postgresql+psycopg://" + configured.removeprefix("postgresql://")
        return configured
    return f"sqlite:///{data_dir / 'symphony.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL with WAL: a commit survives any crash or restart of the process without an fsync
    # per commit (those serialised every run report behind one disk flush: a p99 of 140 ms
    # at concurrency 8); only a power loss can take back the last commits. A fleet's store is
    # PostgreSQL, with its own durability settings.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str) -> sa.Engine:
    """An engine with bounded pools and timeouts; nothing is connected yet."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"timeout": 15, "check_same_thread": False}, pool_size=8
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url,
        pool_size=8,
        max_overflow=4,
        pool_timeout=10,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


@contextmanager
def exclusive(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection held by one proxy at a time (migrations, the first keys): an advisory
    lock on PostgreSQL, a file lock beside SQLite taken before connecting (connecting
    switches the file to WAL, which SQLite refuses to do for two connections at once)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            connection.commit()
            try:
                yield connection
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK}
                )
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.connect() as connection:
            yield connection
        return
    lock_path = Path(database).with_suffix(".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(engine: sa.Engine, target: str = "head") -> None:
    """Bring the schema to `target` (Alembic), safely when several proxies start at once."""
    if engine.url.database and engine.dialect.name == "sqlite":
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with exclusive(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)
        connection.commit()


def probe(engine: sa.Engine) -> Probe:
    """SELECT 1 on the store."""
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        ok, detail = True, engine.dialect.name
    except sa.exc.SQLAlchemyError as exc:
        ok, detail = False, f"{engine.dialect.name}: {type(exc).__name__}"
    return Probe("store", ok, (time.perf_counter() - started) * 1000, detail)
