"""A throwaway real PostgreSQL cluster for tests: initdb into a temp folder, one server on a
free port, a fresh database per test."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.processes import Service, free_port, spawn

USER = "symphony"
# PostgreSQL refuses to run as root; as root the cluster belongs to Debian's system user.
SYSTEM_USER = "postgres"
# A test cluster: speed over durability, and UTC whatever the host's zone, so runs agree.
SERVER_SETTINGS = (
    "listen_addresses=127.0.0.1",
    "timezone=UTC",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
)
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def server_binaries() -> Path:
    """The bin folder of the newest installed PostgreSQL (initdb, pg_ctl, postgres)."""
    found = [
        folder
        for folder in Path("/usr/lib/postgresql").glob("*/bin")
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))
    ]
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing: "
            "run `just setup` first"
        )
    return max(found, key=lambda folder: _major(folder.parent.name))


def _major(version: str) -> int:
    return int(version) if version.isdigit() else -1


def _check_system_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root needs the {SYSTEM_USER!r} system user of Debian's postgresql "
            "package: run `just setup` first"
        ) from None


def _as_owner(argv: Sequence[str]) -> list[str]:
    """`argv` run as the cluster's owner: ourselves, or the postgres user when we are root."""
    if os.geteuid() != 0:
        return list(argv)
    return ["runuser", "-u", SYSTEM_USER, "--", *argv]


@dataclass
class Postgres:
    """A running cluster, its superuser `symphony` trusted on 127.0.0.1."""

    service: Service
    root: Path
    bin_dir: Path
    database: str

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self.service.port

    @property
    def url(self) -> str:
        """URL of the database created at start."""
        return self.url_of(self.database)

    def url_of(self, database: str) -> str:
        """URL of `database` on this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A plain autocommit connection (for admin statements such as CREATE DATABASE)."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            dbname=database,
            connect_timeout=2,
            autocommit=True,
        )

    def new_database(self, name: str) -> str:
        """Create an empty database `name`; returns its URL."""
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"database name {name!r} is not [a-z_][a-z0-9_]*")
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_of(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended) and remove its files."""
        try:
            if self.service.proc.poll() is None:
                # SIGTERM, what Service.stop() sends, is PostgreSQL's "smart" shutdown, which
                # waits for every pooled client connection to go away.
                subprocess.run(
                    _as_owner(
                        [
                            str(self.bin_dir / "pg_ctl"),
                            *("stop", "-D", str(self.root / "data")),
                            *("-m", "fast", "-w", "-t", "10"),
                        ]
                    ),
                    cwd=self.root,
                    capture_output=True,
                    timeout=20,
                    check=False,
                )
            self.service.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(log_dir: Path, database: str = "symphony", timeout_s: float = 30.0) -> Postgres:
    """initdb a new cluster in a temp folder, start it on 127.0.0.1 and create `database`."""
    bin_dir = server_binaries()
    _check_system_user()
    # Directly under /tmp: pytest's own tmp folders are 0700 root, closed to the postgres user.
    root = Path(tempfile.mkdtemp(prefix="symphony-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, user=SYSTEM_USER, group=SYSTEM_USER)
        data = root / "data"
        initdb = subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "initdb"),
                    *("-D", str(data), "-A", "trust", "-U", USER),
                    *("--encoding", "UTF8", "--no-locale", "--no-sync", "--no-instructions"),
                ]
            ),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if initdb.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({initdb.returncode}):\n{initdb.stdout}{initdb.stderr}"
            )
        port = free_port()
        service = spawn(
            "postgres",
            _as_owner(
                [
                    str(bin_dir / "postgres"),
                    *("-D", str(data), "-p", str(port), "-k", str(root)),
                    *(arg for setting in SERVER_SETTINGS for arg in ("-c", setting)),
                ]
            ),
            port,
            log_dir,
            cwd=root,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    server = Postgres(service, root, bin_dir, database)
    try:
        _wait_for_connections(server, timeout_s)
        server.new_database(database)
    except Exception as exc:
        log = service.log()
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc}\n{log[-4000:]}") from exc
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_connections(server: Postgres, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if server.service.proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.service.proc.returncode}")
        try:
            with server.connect() as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError as exc:
            last = str(exc).strip()
        time.sleep(0.05)
    raise RuntimeError(f"postgres not accepting connections after {timeout_s}s: {last}")


@contextmanager
def running_postgres(log_dir: Path, database: str = "symphony") -> Iterator[Postgres]:
    """A started cluster for the duration of the block, then stopped and removed."""
    server = start_postgres(log_dir, database)
    try:
        yield server
    finally:
        server.stop()
