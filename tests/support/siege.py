"""Holding a proxy's resources the way a bad day does: idle connections (slow loris),
dashboard websockets and calls to a hung upstream, while an operator asks for health, the kill
switch and status. Used by the starvation test and `bench/siege.py`."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import simple_websocket

from tests.support.keys import ADMIN_KEY, bearer

OPERATOR_PATHS = ("/status/health.json", "/controls/kill-switch", "/status/burndown.json")


@dataclass
class Siege:
    """What is held open against one proxy."""

    idle: list[socket.socket] = field(default_factory=list)
    websockets: list[Any] = field(default_factory=list)
    hung: list[threading.Thread] = field(default_factory=list)
    hung_results: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def open_websockets(self) -> int:
        """Websockets still connected."""
        return sum(1 for ws in self.websockets if ws.connected)

    def close(self) -> None:
        """Let everything go."""
        self.stop.set()
        for sock in self.idle:
            with contextlib.suppress(OSError):
                sock.close()
        for ws in self.websockets:
            with contextlib.suppress(Exception):
                ws.close()


def open_idle(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` connections that send half a request line and then nothing."""
    held = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"GET /status/health.json HTTP/1.1\r\nHost: x\r\n")
        held.append(sock)
    return held


def open_websockets(ws_url: str, count: int) -> list[Any]:
    """`count` dashboard websockets (operator key), each past its `hello`."""
    sockets = []
    for _ in range(count):
        ws = simple_websocket.Client.connect(ws_url, headers=bearer(ADMIN_KEY), ping_interval=None)
        hello = json.loads(ws.receive(timeout=10))
        assert hello["type"] == "hello", hello
        sockets.append(ws)
    return sockets


def hang(url: str, body: dict[str, Any], count: int, siege: Siege) -> None:
    """`count` calls whose upstream never answers, each from its own client thread."""

    def call() -> None:
        try:
            response = requests.post(url, json=body, headers=bearer(ADMIN_KEY), timeout=600)
            siege.hung_results.append(response.status_code)
        except requests.RequestException:
            siege.hung_results.append(-1)

    for _ in range(count):
        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        siege.hung.append(thread)


@contextlib.contextmanager
def besieged(
    url: str, idle: int, websockets: int, hung: int, hung_body: dict[str, Any]
) -> Iterator[Siege]:
    """A proxy at `url` holding `idle` + `websockets` + `hung` resources."""
    host, port = url.removeprefix("http://").split(":")
    siege = Siege()
    try:
        hang(f"{url}/route/execute", hung_body, hung, siege)
        siege.idle = open_idle(host, int(port), idle)
        siege.websockets = open_websockets(f"ws://{host}:{port}/events", websockets)
        yield siege
    finally:
        siege.close()


def operator_latencies(url: str, rounds: int, paths: Sequence[str] = OPERATOR_PATHS) -> list[float]:
    """Seconds per operator request, each on a fresh connection (as a paged operator's curl
    would be), `rounds` times over `paths`; every answer must be a 200 or a 503 from health."""
    latencies = []
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            response = requests.get(f"{url}{path}", headers=bearer(ADMIN_KEY), timeout=30)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code, response.text)
    return latencies


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]
