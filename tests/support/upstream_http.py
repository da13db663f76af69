"""The HTTP side of the stand-in upstream: OpenAI's chat-completions wire format.

Chat completions (JSON, or SSE chunks over HTTP/1.1 chunked encoding so a cut stream is a
real protocol error for the client), `/v1/models`, OpenAI's error object, and the `/_control`
and `/_requests` endpoints that steer and read the stand-in from other processes.
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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.upstream import Behaviour, UpstreamServer

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _reply_text(body: Mapping[str, Any], behaviour: Behaviour) -> str:
    if behaviour.text is not None:
        return behaviour.text
    users = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
    return f"echo: {_text_of(users[-1].get('content')) if users else ''}"


def _words(text: str) -> list[str]:
    """Split keeping the spaces, so joining the pieces gives the text back."""
    pieces = text.split(" ")
    return [p if i == len(pieces) - 1 else p + " " for i, p in enumerate(pieces)]


def _split(text: str, parts: int) -> list[str]:
    words = _words(text)
    parts = max(1, min(parts, len(words)))
    size = -(-len(words) // parts)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _usage(body: Mapping[str, Any], reply: str, behaviour: Behaviour) -> dict[str, int]:
    prompt = behaviour.prompt_tokens
    if prompt is None:
        messages = body.get("messages", [])
        prompt = sum(
            len(_text_of(m.get("content")).split()) + 3 for m in messages if isinstance(m, dict)
        )
    completion = behaviour.completion_tokens
    if completion is None:
        completion = len(reply.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _error(status: int, message: str | None = None, param: str | None = None) -> dict[str, Any]:
    kind, code, default = _ERRORS.get(status, ("server_error", None, HTTPStatus(status).phrase))
    return {"error": {"message": message or default, "type": kind, "param": param, "code": code}}


def _max_words(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


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
        self._send_json(401, _error(401))
        return False

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
        self._send_json(404, _error(404, f"Unknown path {path}"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if path == "/_control":
            self._control(body)
            return
        self._record(body)
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error(404, f"Unknown path {path}"))
            return
        if not self._authorised():
            return
        self._chat(body)

    def _control(self, body: Any) -> None:
        if not isinstance(body, dict):
            self._send_json(400, _error(400, "control body must be a JSON object"))
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
            self._send_json(400, _error(400, str(exc)))
            return
        self._send_json(200, {"ok": True})

    def _chat(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            self._send_json(400, _error(400, "you must provide a model parameter", "model"))
            return
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self._send_json(400, _error(400, "messages must be a non-empty array", "messages"))
            return
        model: str = body["model"]
        behaviour, failure = self.upstream.take(model)
        if behaviour.delay_s:
            time.sleep(behaviour.delay_s)
        if failure is not None:
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = f"{behaviour.retry_after:g}"
            message = None
            if behaviour.echo_in_errors:
                presented = self.headers.get("Authorization", "")
                echoed = _reply_text(body, dataclasses.replace(behaviour, text=None))
                message = f"rejected {presented!r} for: {echoed}"
            self._send_json(failure, _error(failure, message), headers)
            return
        reply = _reply_text(body, behaviour)
        finish = "stop"
        limit = _max_words(body)
        if limit is not None and len(_words(reply)) > limit:
            reply, finish = "".join(_words(reply)[:limit]).rstrip(), "length"
        completion_id = self.upstream.next_completion_id()
        if body.get("stream") is True:
            self._stream(body, behaviour, model, completion_id, reply, finish)
        else:
            self._complete(body, behaviour, model, completion_id, reply, finish)

    def _complete(
        self,
        body: Mapping[str, Any],
        behaviour: Behaviour,
        model: str,
        completion_id: str,
        reply: str,
        finish: str,
    ) -> None:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
        }
        if behaviour.usage:
            payload["usage"] = _usage(body, reply, behaviour)
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

    def _stream(
        self,
        body: Mapping[str, Any],
        behaviour: Behaviour,
        model: str,
        completion_id: str,
        reply: str,
        finish: str,
    ) -> None:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
            event: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
            if include_usage:
                event["usage"] = None
            return event

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._send_event(chunk({"role": "assistant", "content": "", "refusal": None}, None))
            for sent, piece in enumerate(_split(reply, behaviour.chunks)):
                if behaviour.cut_after is not None and sent >= behaviour.cut_after:
                    self._drop()
                    return
                if behaviour.chunk_delay_s:
                    time.sleep(behaviour.chunk_delay_s)
                self._send_event(chunk({"content": piece}, None))
            if behaviour.cut_after is not None:
                self._drop()
                return
            self._send_event(chunk({}, finish))
            if include_usage and behaviour.usage:
                last = chunk({}, None)
                last["choices"] = []
                last["usage"] = _usage(body, reply, behaviour)
                self._send_event(last)
            self._send_raw(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_event(self, payload: Mapping[str, Any]) -> None:
        self._send_raw(f"data: {json.dumps(payload)}\n\n".encode())

    def _send_raw(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
