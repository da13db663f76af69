"""The local fleet (scripts/fleet.sh) on free ports, and what tests and benchmarks do with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support.keys import ADMIN_KEY, SIDECAR_KEY, api
from tests.support.processes import ROOT, free_port


@dataclass(frozen=True)
class Fleet:
    """Three proxies, each with its sidecar, sharing one Redis and one PostgreSQL."""

    proxies: tuple[str, str, str]
    sidecars: tuple[str, str, str]
    run_dir: Path
    env: Mapping[str, str]

    def script(self, *args: str, **extra: str) -> None:
        """Run scripts/fleet.sh (or any command) with the fleet's environment."""
        subprocess.run(list(args), cwd=ROOT, env={**self.env, **extra}, check=True)

    def sidecar_script(self, index: int, action: str) -> None:
        """deploy/opa/start.sh for one sidecar (start, ready, stop)."""
        name = "abc"[index]
        self.script(
            "bash",
            "deploy/opa/start.sh",
            action,
            SYMPHONY_OPA_NAME=f"fleet-opa-{name}",
            SYMPHONY_OPA_ADDR=self.sidecars[index].removeprefix("http://"),
            SYMPHONY_BUNDLE_URL=self.proxies[index],
            SYMPHONY_SIDECAR_KEY=SIDECAR_KEY,
            service_run_dir=str(self.run_dir),
        )

    def sidecar_pid(self, index: int) -> int:
        """The process (group) id of one sidecar."""
        return int((self.run_dir / f"fleet-opa-{'abc'[index]}.pid").read_text().strip())


@contextmanager
def running_fleet(work: Path, **env: str) -> Iterator[Fleet]:
    """`scripts/fleet.sh up` on free ports; `down` (and the cluster removed) afterwards."""
    proxy_ports = [free_port() for _ in range(3)]
    opa_ports = [free_port() for _ in range(3)]
    pg_port = free_port()
    pg_dir = Path(f"/tmp/symphony-fleet-pg-test-{pg_port}")
    full_env = {
        **os.environ,
        "FLEET_PROXY_PORTS": " ".join(map(str, proxy_ports)),
        "FLEET_OPA_PORTS": " ".join(map(str, opa_ports)),
        "FLEET_REDIS_PORT": str(free_port()),
        "FLEET_PG_PORT": str(pg_port),
        "FLEET_PG_DIR": str(pg_dir),
        "FLEET_DIR": str(work / "fleet"),
        **env,
    }
    # The fleet's keys are the tests' keys: fleet.sh keeps key files it finds.
    (work / "fleet").mkdir(parents=True, exist_ok=True)
    for name, key in (("admin", ADMIN_KEY), ("sidecar", SIDECAR_KEY)):
        key_file = work / "fleet" / f"{name}.key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    fleet = Fleet(
        proxies=tuple(f"http://127.0.0.1:{p}" for p in proxy_ports),  # type: ignore[arg-type]
        sidecars=tuple(f"http://127.0.0.1:{p}" for p in opa_ports),  # type: ignore[arg-type]
        run_dir=work / "fleet",
        env=full_env,
    )
    try:
        fleet.script("bash", "scripts/fleet.sh", "up")
        yield fleet
    finally:
        subprocess.run(["bash", "scripts/fleet.sh", "down"], cwd=ROOT, env=full_env, check=False)
        shutil.rmtree(pg_dir, ignore_errors=True)


def active(proxy: str) -> dict[str, Any]:
    """GET /policy on one proxy."""
    response = api().get(f"{proxy}/policy", timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def put_label(proxy: str, label: str, etag: str | None = None) -> requests.Response:
    """PUT the active document with a new version label (a real change: new hash)."""
    current = active(proxy)
    document = {**current["document"], "version": label}
    return api().put(
        f"{proxy}/policy",
        json=document,
        headers={"If-Match": etag or current["etag"]},
        timeout=30,
    )


def decided_revision(proxy: str) -> tuple[int, str | None]:
    """(status, revision named by the decision) of one plan on `proxy`."""
    response = api().post(
        f"{proxy}/route/plan?explain=off", json={"task": "qa", "loa": 1}, timeout=10
    )
    body = response.json()
    revision = body.get("decision", {}).get("revision") if response.status_code == 200 else None
    return response.status_code, revision


def propagation_seconds(
    fleet: Fleet, changes: int, source: int = 0, target: int = 2
) -> list[float]:
    """For each change written on proxy `source`: seconds from sending the PUT until the
    decisions on proxy `target` name the new revision."""
    figures = []
    for n in range(changes):
        started = time.monotonic()
        response = put_label(fleet.proxies[source], f"propagation-{time.time_ns()}-{n}")
        response.raise_for_status()
        wanted = response.json()["etag"].strip('"')
        deadline = started + 10
        while time.monotonic() < deadline:
            if decided_revision(fleet.proxies[target]) == (200, wanted):
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"proxy {target} never decided under {wanted}")
        figures.append(time.monotonic() - started)
    return figures
