"""The live event bus and the `/events` websocket.

Each client has a bounded queue: publishing never blocks, and a slow or dead client only
loses its own oldest messages, never stalls the others or the routing path.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_sock import Sock

from app.api.access import requires
from app.core.identity import Role

CLIENT_QUEUE = 256
PING_EVERY_S = 15.0


class EventBus:
    """Fan-out of JSON messages (each with a `type`) to every connected client.

    Every string in a message goes through `redact` first (upstream error text, model names
    and reasons can carry what a client sent); with no client connected nothing is done.
    """

    def __init__(self, redact: Callable[[Any], Any] | None = None) -> None:
        self._redact = redact
        self._lock = threading.Lock()
        self._clients: set[queue.Queue[str]] = set()

    def subscribe(self) -> queue.Queue[str]:
        """A new client's queue."""
        inbox: queue.Queue[str] = queue.Queue(maxsize=CLIENT_QUEUE)
        with self._lock:
            self._clients.add(inbox)
        return inbox

    def unsubscribe(self, inbox: queue.Queue[str]) -> None:
        """Forget a client."""
        with self._lock:
            self._clients.discard(inbox)

    def redact(self, message: Any) -> Any:
        """`message` with every string redacted (unchanged when no redactor is set)."""
        return self._redact(message) if self._redact is not None else message

    @property
    def client_count(self) -> int:
        """Connected clients."""
        with self._lock:
            return len(self._clients)

    def publish(self, message: dict[str, Any]) -> None:
        """Queue `message` for every client, dropping a full client's oldest message."""
        with self._lock:
            clients = list(self._clients)
        if not clients:
            return
        if self._redact is not None:
            message = self._redact(message)
        text = json.dumps(message, separators=(",", ":"), default=str)
        for inbox in clients:
            while True:
                try:
                    inbox.put_nowait(text)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        inbox.get_nowait()


def register_events(app: Flask, bus: EventBus, hello: Any) -> None:
    """Mount `WS /events`: a `hello` message, then everything published on the bus."""
    sock = Sock(app)

    # Decision events carry audit ids that open run reports: the websocket requires the same
    # role as GET /runs/<audit_id>.
    @sock.route("/events")  # type: ignore[untyped-decorator]
    @requires(Role.OPERATOR)
    def events(ws: Any) -> None:
        inbox = bus.subscribe()
        try:
            ws.send(json.dumps(bus.redact(hello()), default=str))
            while ws.connected:
                try:
                    text = inbox.get(timeout=PING_EVERY_S)
                except queue.Empty:
                    text = json.dumps({"type": "ping"})
                ws.send(text)
        except Exception:
            pass
        finally:
            bus.unsubscribe(inbox)
