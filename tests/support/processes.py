"""Starting and stopping the real services tests talk to."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.keys import KEY_ENV, SIDECAR_KEY

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
VENV_BIN = Path(sys.executable).parent


# Test services listen below the kernel's ephemeral range (32768-60999 on Linux), where
# outgoing connections take their local ports: a port handed out here cannot be taken by a
# client's connection between the moment it is chosen and the moment a service binds it.
_PORTS = list(range(20000, 32000))
random.shuffle(_PORTS)
_next_port = itertools.count()


def free_port() -> int:
    """A TCP port nobody listens on right now, outside the ephemeral range."""
    for _ in range(len(_PORTS)):
        port = _PORTS[next(_next_port) % len(_PORTS)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def tool(name: str) -> str:
    """Path of a pinned tool (.tools/bin) or a system binary; fails loudly when missing."""
    local = TOOLS / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: run `just setup` first")
    return found


def wait_until_up(
    url: str, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `url` until it answers 2xx; raise with the reason otherwise."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            response = requests.get(url, timeout=1.0)
            if response.status_code < 300:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise RuntimeError(f"{url} not up after {timeout_s}s: {last}")


@dataclass
class Service:
    """A started process with the address it serves on."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Terminate (then kill) the process and its children."""
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log(self) -> str:
        """What the process printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ready(self, path: str, timeout_s: float = 20.0) -> Service:
        """Wait until `path` answers 2xx; otherwise stop the process and fail with its log."""
        try:
            wait_until_up(f"{self.url}{path}", timeout_s=timeout_s, proc=self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.log()[-4000:]}") from exc
        return self


def spawn(
    name: str,
    argv: Sequence[str],
    port: int,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> Service:
    """Start `argv` in its own process group with output to <log_dir>/<name>.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    handle = log_path.open("wb")
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        list(argv),
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=cwd,
        start_new_session=True,
    )
    handle.close()
    return Service(name, proc, port, log_path)


# As deploy/opa/start.sh runs OPA: a lazier garbage collector (OPA's heap is small) and one
# processor (a sidecar serves one proxy worker).
OPA_ENV = {"GOGC": "400", "GOMAXPROCS": "1"}


def start_opa(
    log_dir: Path,
    bundle_url: str,
    port: int | None = None,
    name: str = "opa",
    persist_dir: Path | None = None,
    wait: bool = True,
    extra_args: Sequence[str] = (),
) -> Service:
    """The real OPA sidecar as deploy/opa runs it: pulls its bundle from `bundle_url` (a
    proxy's base URL; the bundle owns every path, so REST writes are refused); ready once the
    bundle is activated."""
    port = port or free_port()
    persist = persist_dir or (log_dir / f"{name}-{port}-persist")
    service = spawn(
        name,
        [
            tool("opa"),
            "run",
            "--server",
            "--skip-version-check",
            "--optimize-store-for-read-speed",
            "--log-level=error",
            "--addr",
            f"127.0.0.1:{port}",
            "--config-file",
            str(ROOT / "deploy" / "opa" / "config.yaml"),
            "--set",
            f"services.symphony.url={bundle_url.rstrip('/')}/opa",
            "--set",
            f"persistence_directory={persist}",
            "--set",
            f"labels.sidecar={name}",
            *extra_args,
        ],
        port,
        log_dir,
        env={**OPA_ENV, "SYMPHONY_SIDECAR_KEY": SIDECAR_KEY},
    )
    return service.ready("/health?bundles", timeout_s=30) if wait else service


def start_redis(log_dir: Path) -> Service:
    """A throwaway real redis-server (no persistence)."""
    port = free_port()
    service = spawn(
        "redis",
        [
            tool("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        port,
        log_dir,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return service
        except OSError:
            time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"redis did not start:\n{service.log()}")


def start_proxy(log_dir: Path, env: Mapping[str, str], port: int | None = None) -> Service:
    """The proxy as production runs it: `symphony serve` (gunicorn, one gevent worker)."""
    port = port or free_port()
    service = spawn(
        "proxy",
        [
            str(VENV_BIN / "symphony"),
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "2",
        ],
        port,
        log_dir,
        env={
            **KEY_ENV,
            "SYMPHONY_AUTH_FAILURE_LIMIT": "10000/minute",
            **env,
            "SYMPHONY_BIND": f"127.0.0.1:{port}",
        },
    )
    # /metrics needs no key and answers as soon as the app is up (health is 503 until OPA is).
    return service.ready("/metrics", timeout_s=30)


def start_proxy_with_sidecar(log_dir: Path, env: Mapping[str, str]) -> tuple[Service, Service]:
    """A proxy and its own OPA sidecar pulling the proxy's bundle: (proxy, opa)."""
    opa_port = free_port()
    proxy = start_proxy(log_dir, {**env, "SYMPHONY_OPA_URL": f"http://127.0.0.1:{opa_port}"})
    try:
        return proxy, start_opa(log_dir, proxy.url, port=opa_port)
    except BaseException:
        proxy.stop()
        raise
