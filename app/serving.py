"""The proxy's server model: one gunicorn worker with gevent (`symphony serve`).

Why gevent (measured; README "Performance"): with threads, every websocket, every connection
still sending its headers and every call waiting on an upstream holds one of a fixed number of
threads, so 32 dashboard tabs, 33 slow clients or 32 calls to a hung upstream stop the proxy —
health and the kill switch included. Under gevent each of those is a greenlet parked on a
socket (a few KB), and what bounds them is explicit:

- `SYMPHONY_WORKER_CONNECTIONS` (8192): connections open at once (gunicorn stops accepting
  beyond it).
- `SYMPHONY_MAX_CONNECTIONS_PER_CLIENT` (2048): open connections per client address; the next
  one is closed at once.
- `SYMPHONY_HEADER_TIMEOUT_S` (5): a request's line and headers must arrive within it (also the
  keep-alive idle time); a slow-loris connection is closed.
- `SYMPHONY_CLIENT_TIMEOUT_S` (30): any single read of a body or write of a response that makes
  no progress for that long ends the connection (websockets wait on their own pings instead).
- Websockets (`SYMPHONY_MAX_WEBSOCKETS`, `..._PER_CLIENT`), upstream calls (per-model cap and
  per-route timeouts) are bounded in app/events.py and the executor.

Requests are parsed by gunicorn's C parser (`--http-parser fast`, the `gunicorn_h1c`
extension: picohttpparser) rather than its pure-Python one, under the same limits on the
request line, the header count and a header's size (tests/integration/test_request_parser.py):
a /v1 request's line and headers in 19 µs instead of 24 (hot, in a loop); side by side, the
worker's CPU per /v1 call 864 -> 855 µs and /v1 p50 at concurrency 1 1.50 -> 1.45 ms (the
second stack of such a comparison measures ~0.03 ms faster with identical code). `fast`,
not `auto`: a missing extension stops the worker at boot instead of silently slowing it.

One worker per proxy: a proxy's in-process counters, live telemetry and Prometheus series
live in one process, so they stay exact without a multiprocess registry; the Python work of a
request is CPU-bound under one interpreter lock either way, and OPA needs the other core. Scale
out with more proxies sharing Redis and the store (scripts/fleet.sh).

This module is imported by gunicorn's master before the worker patches the standard library,
so it imports nothing but gunicorn and the settings module at the top.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from gunicorn.http import wsgi  # type: ignore[import-untyped]
from gunicorn.workers.base_async import AsyncWorker  # type: ignore[import-untyped]
from gunicorn.workers.ggevent import GeventWorker  # type: ignore[import-untyped]

from app.core.slots import ClientSlots
from app.settings import Settings


class CoalescingResponse(wsgi.Response):  # type: ignore[misc]
    """gunicorn's HTTP/1 response, sending its status line and headers with the first body
    bytes in one send instead of two (a send is a system call and, under gevent, a trip
    through the hub: about 5% of a small request's CPU here). Whatever else puts bytes on
    the wire (sendfile, the end of a chunked body, a body-less response) sends the held
    headers first."""

    headers_sent: bool
    _held = b""
    _hold = True

    def send_headers(self) -> None:
        """Build the header block and hold it for the first body bytes."""
        if self.headers_sent:
            return
        if not self._hold:
            super().send_headers()
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._held = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _flush_held(self) -> None:
        held, self._held = self._held, b""
        if held:
            self.sock.sendall(held)

    def _emit_body(self, data: bytes) -> None:
        if self._held and not self.chunked:
            held, self._held = self._held, b""
            self.sock.sendall(held + data)
            return
        self._flush_held()
        super()._emit_body(data)

    def sendfile(self, respiter: Any) -> bool:
        """A file goes out as gunicorn sends it, after the headers (not held)."""
        self._hold = False
        self._flush_held()
        sent: bool = super().sendfile(respiter)
        return sent

    def close(self) -> None:
        """A response with no body bytes still sends its headers."""
        if not self.headers_sent:
            self.send_headers()
        self._flush_held()
        super().close()


class Worker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker with a per-client connection cap, socket timeouts and
    coalesced response writes."""

    def init_process(self) -> None:
        """Read the limits (after the fork, before serving)."""
        # wsgi.create() builds gunicorn's module-level Response for every HTTP/1 request.
        wsgi.Response = CoalescingResponse
        settings = Settings.from_env(os.environ)
        self._slots = ClientSlots(settings.max_connections_per_client)
        self._client_timeout_s = settings.client_timeout_s
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the application, then take what it built out of the collector's sight."""
        super().load_wsgi()
        # Everything the application holds from here on (modules, Flask, SQLAlchemy, the
        # compiled schemas) lives as long as the worker; Python's full (generation 2)
        # collections walked all of it, stopping the event loop for 52-79 ms every few
        # seconds under load (a concurrency-1 run's worst request: 76-99 ms). Frozen, it is
        # never walked again: 24-25 ms at worst over the same run.
        gc.collect()
        gc.freeze()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        """Serve one connection, unless its client already holds its share."""
        host = str(addr[0]) if isinstance(addr, tuple) and addr else "local"
        if not self._slots.take(host):
            client.close()
            return
        try:
            # gunicorn's gevent worker makes the socket blocking with no timeout: a client that
            # stops reading or sending would hold the connection forever.
            client.settimeout(self._client_timeout_s)
            AsyncWorker.handle(self, listener, client, addr)
        finally:
            self._slots.give_back(host)


def serve_argv(
    settings: Settings, bind: str | None, graceful: float, app_uri: str = "app:create_app()"
) -> list[str]:
    """The gunicorn arguments (after `python`) of the proxy (see the module docstring), JSON
    logs; `app_uri` serves another WSGI app the same way (the benchmarks' floor)."""
    return [
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--worker-class",
        "app.serving.Worker",
        "--worker-connections",
        str(settings.worker_connections),
        "--keep-alive",
        f"{settings.header_timeout_s:g}",
        "--bind",
        bind or settings.bind,
        "--graceful-timeout",
        f"{graceful:g}",
        "--no-control-socket",
        "--http-parser",
        "fast",
        "--logger-class",
        "app.logs.GunicornLogger",
        "--access-logfile",
        "-",
        app_uri,
    ]
