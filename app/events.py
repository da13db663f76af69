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

from flask import Flask, g, request
from flask_sock import Sock

from app.api.access import requires
from app.api.errors import json_error
from app.core.identity import Role
from app.core.slots import ClientSlots

CLIENT_QUEUE = 256
PING_EVERY_S = 15.0
PROTOCOL_PING_S = 10.0
"""Websocket-level pings: a client that stops answering them (or reading) is disconnected;
shorter than SYMPHONY_CLIENT_TIMEOUT_S, so a quiet but live dashboard keeps its socket."""


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

    @property
    def listening(self) -> bool:
        """Whether any client is connected: callers skip building messages no one reads (read
        without the lock; a client connecting meanwhile gets the next message)."""
        return bool(self._clients)

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


class WebsocketSlots:
    """Websockets open at once, in all and per client address."""

    def __init__(self, total: int, per_client: int) -> None:
        self._total = total
        self._open = 0
        self._clients = ClientSlots(per_client)
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        """Count a new websocket; False when the proxy or the client is at its cap."""
        with self._lock:
            if self._open >= self._total or not self._clients.take(client):
                return False
            self._open += 1
            return True

    def give_back(self, client: str) -> None:
        """A websocket closed."""
        with self._lock:
            self._open -= 1
            self._clients.give_back(client)


def register_events(
    app: Flask, bus: EventBus, hello: Any, max_total: int = 1024, max_per_client: int = 256
) -> None:
    """Mount `WS /events`: a `hello` message, then everything published on the bus.

    Over `max_total` open websockets, or `max_per_client` from one address, the upgrade is
    refused with 429 `too_many_websockets` (a slot is held from before the handshake until
    the request ends)."""
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": PROTOCOL_PING_S})
    sock = Sock(app)
    slots = WebsocketSlots(max_total, max_per_client)

    @app.before_request
    def _websocket_slot() -> Any:
        if request.path != "/events":
            return None
        client = request.remote_addr or "local"
        if not slots.take(client):
            return json_error(
                429, "too_many_websockets", "too many websockets are open; close some first"
            )
        g.websocket_client = client
        return None

    @app.teardown_request
    def _websocket_release(_exc: BaseException | None) -> None:
        client = g.pop("websocket_client", None)
        if client is not None:
            slots.give_back(client)

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
