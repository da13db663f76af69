"""The HTTP side of the stand-in upstream: routes, OpenAI's status codes and SSE framing.

Chat completions (text or a tool call; JSON, or SSE chunks over HTTP/1.1 chunked encoding so
a cut stream is a real protocol error for the client), legacy completions, embeddings,
`/v1/models`, OpenAI's error object, and the `/_control` and `/_requests` endpoints that steer
and read the stand-in from other processes. The bodies themselves come from
`tests.support.upstream_wire`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.support import upstream_wire as wire

if TYPE_CHECKING:
    from tests.support.upstream import Behaviour, UpstreamServer

_CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
_COMPLETION_PATHS = ("/v1/completions", "/completions")
_EMBEDDING_PATHS = ("/v1/embeddings", "/embeddings")


# the server ----------------------------------------------------------------------------------


class UpstreamHTTPServer(ThreadingHTTPServer):
    """The stand-in's threaded HTTP server; every connection gets a `_Handler`."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of concurrent calls from several proxies
    # then has connections dropped and retried past the gateway's 2 s connect timeout.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], upstream: UpstreamServer) -> None:
        self.upstream = upstream
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that give up (timeouts, cut streams) are expected; anything else is printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Cut every open connection, as a provider that goes away would."""
        with self.connections_lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams a cut can break
    server: UpstreamHTTPServer
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this Nagle + delayed ACK
        # would add ~40 ms to some answers and ruin latency measurements.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the records, not a log."""

    @property
    def upstream(self) -> UpstreamServer:
        return self.server.upstream

    # plumbing ------------------------------------------------------------------------------

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_answer(self, payload: Mapping[str, Any], behaviour: Behaviour) -> None:
        """A 200 JSON answer, or half of one and a dropped connection under `cut_after`."""
        if behaviour.cut_after is None:
            self._send_json(200, payload)
            return
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self._drop()

    def _drop(self) -> None:
        """Close the connection abruptly, mid-body."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _record(self, body: Any) -> None:
        path = self.path.split("?", 1)[0]
        self.upstream.record(self.command, path, dict(self.headers.items()), body)

    def _authorised(self) -> bool:
        key = self.upstream.api_key
        if key is None or self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._send_json(401, wire.error(401))
        return False

    def _admit(self, model: str, echoed: str) -> Behaviour | None:
        """`model`'s behaviour after its delay, or None once its error status is answered."""
        behaviour, failure = self.upstream.take(model)
        if behaviour.delay_s:
            time.sleep(behaviour.delay_s)
        if failure is None:
            return behaviour
        headers = {}
        if behaviour.retry_after is not None:
            headers["Retry-After"] = f"{behaviour.retry_after:g}"
        message = None
        if behaviour.echo_in_errors:
            presented = self.headers.get("Authorization", "")
            message = f"rejected {presented!r} for: {echoed}"
        self._send_json(failure, wire.error(failure, message), headers)
        return None

    # routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_requests":
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            model = params.get("model")
            records = self.upstream.requests_for(model) if model else self.upstream.requests
            self._send_json(200, {"requests": [r.to_json() for r in records]})
            return
        if path == "/_control":
            current = {k: dataclasses.asdict(v) for k, v in self.upstream.behaviours().items()}
            self._send_json(200, {"behaviours": current})
            return
        self._record(None)
        if path in ("/v1/models", "/models"):
            if not self._authorised():
                return
            created = int(time.time())
            data = [
                {"id": m, "object": "model", "created": created, "owned_by": "symphony-stand-in"}
                for m in self.upstream.models
            ]
            self._send_json(200, {"object": "list", "data": data})
            return
        self._send_json(404, wire.error(404, f"Unknown path {path}"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if path == "/_control":
            self._control(body)
            return
        self._record(body)
        routes = {_CHAT_PATHS: self._chat, _COMPLETION_PATHS: self._completions}
        routes[_EMBEDDING_PATHS] = self._embeddings
        route = next((r for paths, r in routes.items() if path in paths), None)
        if route is None:
            self._send_json(404, wire.error(404, f"Unknown path {path}"))
            return
        if not self._authorised():
            return
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            self._send_json(400, wire.error(400, "you must provide a model parameter", "model"))
            return
        try:
            route(body)
        except wire.BadRequest as exc:
            self._send_json(400, wire.error(400, str(exc), exc.param))

    def _control(self, body: Any) -> None:
        if not isinstance(body, dict):
            self._send_json(400, wire.error(400, "control body must be a JSON object"))
            return
        fields = dict(body)
        model = fields.pop("model", None)
        reset = bool(fields.pop("reset", False))
        try:
            if model is None and reset:
                self.upstream.reset()
            elif not isinstance(model, str):
                raise ValueError("`model` (a string, or * for all) is required")
            elif reset:
                self.upstream.restore(model)
            if isinstance(model, str) and fields:
                self.upstream.update(model, **fields)
        except (TypeError, ValueError) as exc:
            self._send_json(400, wire.error(400, str(exc)))
            return
        self._send_json(200, {"ok": True})

    # chat completions ------------------------------------------------------------------------

    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise wire.BadRequest("messages must be a non-empty array", "messages")
        n = wire.choice_count(body)
        model: str = body["model"]
        behaviour = self._admit(model, wire.reply_text(body, None))
        if behaviour is None:
            return
        call = wire.wanted_call(body, behaviour)
        if call is not None:
            answers = [wire.tool_answer(*call, behaviour.chunks)] * n
        else:
            reply, finish = wire.generated(wire.reply_text(body, behaviour.text), body)
            answers = [wire.text_answer(reply, finish, behaviour.chunks)] * n
        usage = wire.usage(
            behaviour, wire.chat_prompt_tokens(body), sum(a.completion_tokens for a in answers)
        )
        completion_id = self.upstream.next_completion_id()
        if body.get("stream") is True:
            totals = usage if behaviour.usage else None
            self._stream(behaviour, wire.chat_stream(body, completion_id, model, answers, totals))
            return
        payload = wire.chat_completion(completion_id, model, answers)
        if behaviour.usage:
            payload["usage"] = usage
        self._send_answer(payload, behaviour)

    def _stream(self, behaviour: Behaviour, events: wire.EventStream) -> None:
        """SSE: `events` in order, then `[DONE]`; `cut_after` counts steps before the drop."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events.opening:
                self._send_event(event)
            for sent, step in enumerate(events.steps):
                if behaviour.cut_after is not None and sent >= behaviour.cut_after:
                    self._drop()
                    return
                if behaviour.chunk_delay_s:
                    time.sleep(behaviour.chunk_delay_s)
                for event in step:
                    self._send_event(event)
            if behaviour.cut_after is not None:
                self._drop()
                return
            for event in events.closing:
                self._send_event(event)
            if events.last is not None:
                self._send_event(events.last)
            self._send_raw(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_event(self, payload: Mapping[str, Any]) -> None:
        self._send_raw(f"data: {json.dumps(payload)}\n\n".encode())

    def _send_raw(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # legacy completions and embeddings ---------------------------------------------------------

    def _completions(self, body: dict[str, Any]) -> None:
        prompts = wire.inputs(body.get("prompt"), "prompt")
        n = wire.choice_count(body)
        model: str = body["model"]
        behaviour = self._admit(model, f"echo: {prompts[0][0]}")
        if behaviour is None:
            return
        texts = wire.completion_texts(body, prompts, behaviour.text, n)
        usage = wire.usage(
            behaviour,
            sum(tokens for _, tokens in prompts),
            sum(len(text.split()) for text, _ in texts),
        )
        completion_id = self.upstream.next_completion_id("cmpl")
        if body.get("stream") is True:
            totals = usage if behaviour.usage else None
            events = wire.text_completion_stream(
                body, completion_id, model, texts, behaviour.chunks, totals
            )
            self._stream(behaviour, events)
            return
        payload = wire.text_completion(completion_id, model, texts)
        if behaviour.usage:
            payload["usage"] = usage
        self._send_answer(payload, behaviour)

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = wire.inputs(body.get("input"), "input")
        dimensions, encoding = wire.embedding_options(body)
        model: str = body["model"]
        behaviour = self._admit(model, " ".join(text for text, _ in inputs))
        if behaviour is None:
            return
        data = wire.embeddings_data(inputs, dimensions, encoding)
        payload: dict[str, Any] = {"object": "list", "data": data, "model": model}
        if behaviour.usage:
            tokens = behaviour.prompt_tokens
            if tokens is None:
                tokens = sum(count for _, count in inputs)
            payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send_answer(payload, behaviour)
