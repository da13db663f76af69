"""The OpenAI-compatible gateway client: pooled, with timeouts, streaming chunk by chunk.

It forwards the client's JSON and returns the upstream's JSON as they are, reading only what
Symphony needs (text, finish reason, usage). The official SDK's typed objects would not do:
they drop fields they do not know and add nulls for the ones they do, so a tool call, a
`logprobs` or next month's field would not arrive as sent. Redirects are never followed.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.adapters import http1, json_codec
from app.core.ports import ChatCall, Completion, Delta, GatewayFailure, Probe


def _failure_for_status(status: int, body: bytes) -> GatewayFailure:
    if 300 <= status < 400:
        # Redirects are never followed: the gateway key must not travel to another host.
        return GatewayFailure("http_3xx", f"HTTP {status}: redirect not followed", status)
    text = body.decode("utf-8", "replace")
    try:
        detail = str(json.loads(text).get("error", {}).get("message", ""))[:300]
    except (ValueError, AttributeError):
        detail = text[:300]
    if status == 429:
        return GatewayFailure("http_429", detail or "rate limited", status)
    if status >= 500:
        return GatewayFailure("http_5xx", detail or f"HTTP {status}", status)
    return GatewayFailure("http_4xx", detail or f"HTTP {status}", status)


def _answer_text(payload: Any, endpoint: str) -> tuple[str, str | None]:
    """The first choice's text and finish reason (embeddings have neither)."""
    if endpoint == "embeddings":
        if not isinstance(payload.get("data"), list):
            raise TypeError("no data")
        return "", None
    choice = payload["choices"][0]
    if endpoint == "completions":
        return str(choice.get("text") or ""), choice.get("finish_reason")
    return str(choice["message"].get("content") or ""), choice.get("finish_reason")


def _delta_text(chunk: Any, endpoint: str) -> tuple[str, str | None]:
    """The text a streamed chunk adds, over every choice, and its finish reason."""
    text: list[str] = []
    finish: str | None = None
    for choice in chunk.get("choices") or []:
        if endpoint == "completions":
            piece = choice.get("text")
        else:
            piece = (choice.get("delta") or {}).get("content")
        if isinstance(piece, str):
            text.append(piece)
        finish = choice.get("finish_reason") or finish
    return "".join(text), finish


# More tokens than any model's context: an upstream claiming it is wrong, and pricing it
# could overflow a float (cost_usd: Infinity), so such counts are treated as missing.
MAX_REPORTED_TOKENS = 1_000_000_000


def reported_usage(payload: dict[str, Any]) -> tuple[int | None, int | None]:
    """(prompt, completion) tokens the upstream reported; None where absent or implausible."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None, None

    def count(value: Any) -> int | None:
        plausible = isinstance(value, int) and not isinstance(value, bool)
        return value if plausible and 0 <= value <= MAX_REPORTED_TOKENS else None

    return count(usage.get("prompt_tokens")), count(usage.get("completion_tokens"))


MAX_IDLE_PER_ORIGIN = 64
"""Idle keep-alive connections kept per upstream between bursts."""
MAX_ERROR_BODY = 65_536
"""How much of an error answer is read to find its message."""


@dataclass(frozen=True)
class _Origin:
    """Where a connection goes: the upstream, or the proxy in front of it."""

    scheme: str
    host: str
    port: int
    proxy: tuple[str, str, int] | None  # (scheme, host, port) of an HTTP proxy, if any


class _Reply:
    """An upstream answer on a pooled connection; the connection goes back to the pool only
    when the answer was read to its end and the server keeps it open."""

    def __init__(
        self,
        response: http1.Response,
        connection: http1.Connection,
        give_back: Callable[[http1.Connection], None],
    ) -> None:
        self.response = response
        self._connection: http1.Connection | None = connection
        self._give_back = give_back

    def read(self, limit: int | None = None) -> bytes:
        """The body (or its first `limit` bytes, after which the connection is dropped)."""
        data = self.response.read(limit) if limit is not None else self.response.read()
        self.close(finished=limit is None)
        return data

    def lines(self) -> Iterator[bytes]:
        """The body line by line, without line ends; the connection is released at the end."""
        while True:
            line = self.response.readline()
            if not line:
                self.close(finished=True)
                return
            yield line.rstrip(b"\r\n")

    def close(self, finished: bool = False) -> None:
        """Release the connection: back to the pool when reusable, else closed."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if finished and self.response.finished and not self.response.will_close:
            self._give_back(connection)
        else:
            connection.close()


class HttpGateway:
    """Calls `<base_url>/<endpoint>` on lean keep-alive connections (app/adapters/http1),
    pooled per upstream (requests cost ~4x the CPU per call here, http.client ~1.5x;
    bench/hotpath.py). HTTP(S) proxies from the environment are honoured (read once per
    upstream); redirects never followed."""

    def __init__(self, key: str | None, connect_timeout_s: float, read_timeout_s: float) -> None:
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._heads: dict[tuple[str, str, str], bytes] = {}
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
        self._tls = ssl.create_default_context(cafile=bundle or None)
        self._origins: dict[str, tuple[_Origin, str]] = {}
        self._idle: dict[_Origin, list[http1.Connection]] = {}
        self._lock = threading.Lock()

    def _origin(self, base_url: str) -> tuple[_Origin, str]:
        """The origin of `base_url` and its path prefix (environment proxies read once)."""
        found = self._origins.get(base_url)
        if found is None:
            parts = urlsplit(base_url)
            scheme = parts.scheme or "http"
            port = parts.port or (443 if scheme == "https" else 80)
            proxy_url = urllib.request.getproxies().get(scheme)
            proxy = None
            if proxy_url and not urllib.request.proxy_bypass(parts.hostname or ""):
                via = urlsplit(proxy_url)
                via_scheme = via.scheme or "http"
                proxy = (
                    via_scheme,
                    via.hostname or "",
                    via.port or (443 if via_scheme == "https" else 80),
                )
            origin = _Origin(scheme, parts.hostname or "", port, proxy)
            found = self._origins[base_url] = (origin, parts.path.rstrip("/"))
        return found

    def _connect(self, origin: _Origin) -> http1.Connection:
        tls = self._tls if origin.scheme == "https" else None
        if origin.proxy is None:
            connection = http1.Connection(origin.host, origin.port, self._connect_timeout, tls)
        else:
            via_scheme, via_host, via_port = origin.proxy
            if origin.scheme == "https":
                # A CONNECT tunnel through the proxy, TLS with the upstream inside it.
                connection = http1.Connection(
                    via_host, via_port, self._connect_timeout, tls, (origin.host, origin.port)
                )
            else:
                via_tls = self._tls if via_scheme == "https" else None
                connection = http1.Connection(via_host, via_port, self._connect_timeout, via_tls)
        connection.connect()
        return connection

    def _head(self, method: str, base_url: str, endpoint: str) -> tuple[_Origin, bytes]:
        """The origin and the request head for `<base_url>/<endpoint>` (built once)."""
        origin, prefix = self._origin(base_url)
        key = (method, base_url, endpoint)
        head = self._heads.get(key)
        if head is None:
            target = f"{prefix}/{endpoint}"
            if origin.proxy is not None and origin.scheme == "http":
                target = f"http://{origin.host}:{origin.port}{target}"
            default_port = 443 if origin.scheme == "https" else 80
            host = http1.host_header(origin.host, origin.port, default_port)
            head = self._heads[key] = http1.request_head(method, target, host, self._headers)
        return origin, head

    def _give_back(self, origin: _Origin) -> Callable[[http1.Connection], None]:
        def give_back(connection: http1.Connection) -> None:
            with self._lock:
                idle = self._idle.setdefault(origin, [])
                if len(idle) < MAX_IDLE_PER_ORIGIN:
                    idle.append(connection)
                    return
            connection.close()

        return give_back

    def _send(
        self, method: str, base_url: str, endpoint: str, body: bytes | None, read_timeout: float
    ) -> _Reply:
        """One request on an idle connection, or a new one; a reused connection the server
        closed in the meantime is replaced once. Raises GatewayFailure."""
        origin, head = self._head(method, base_url, endpoint)
        for fresh in (False, True):
            connection = None
            if not fresh:
                with self._lock:
                    idle = self._idle.get(origin)
                    connection = idle.pop() if idle else None
                if connection is None:
                    fresh = True
            try:
                if connection is None:
                    connection = self._connect(origin)
            except TimeoutError as exc:
                raise GatewayFailure("timeout", "connect timeout") from exc
            except OSError as exc:
                raise GatewayFailure("connection_error", type(exc).__name__) from exc
            try:
                connection.settimeout(read_timeout)
                response = connection.request(method, head, body)
            except TimeoutError as exc:
                connection.close()
                raise GatewayFailure("timeout", "read timeout") from exc
            except (http.client.HTTPException, OSError) as exc:
                connection.close()
                if fresh:
                    raise GatewayFailure("connection_error", type(exc).__name__) from exc
                continue
            return _Reply(response, connection, self._give_back(origin))
        raise AssertionError("unreachable")

    @staticmethod
    def body(call: ChatCall) -> dict[str, Any]:
        """The request body: the client's fields as sent, with the routed model and
        Symphony's own fields (messages, stream, limits) set."""
        body: dict[str, Any] = dict(call.extra)
        body["model"] = call.upstream_model
        if call.endpoint == "embeddings":
            return body
        if call.endpoint == "chat/completions":
            body["messages"] = [dict(m) for m in call.messages]
        body["stream"] = call.stream
        if call.max_tokens is not None:
            # The client's own field name when it gave one (newer models want
            # max_completion_tokens), else max_tokens.
            key = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
            body[key] = call.max_tokens
        if call.temperature is not None:
            body["temperature"] = call.temperature
        if call.stream:
            # Usage is always asked for, so costs and caps use the upstream's counts.
            options = body.get("stream_options")
            body["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
        return body

    def _post(self, call: ChatCall) -> tuple[_Reply, float]:
        started = time.perf_counter()
        timeout = call.read_timeout_s if call.read_timeout_s is not None else self._read_timeout
        payload = json_codec.encode(self.body(call))
        reply = self._send("POST", call.base_url, call.endpoint, payload, timeout)
        ttfb = time.perf_counter() - started
        status = reply.response.status
        if status != 200:
            try:
                body = reply.read(MAX_ERROR_BODY)
            except (http.client.HTTPException, OSError):
                body = b""
            reply.close()
            raise _failure_for_status(status, body)
        return reply, ttfb

    def complete(self, call: ChatCall) -> Completion:
        """One non-streaming call; the upstream's JSON answer is kept whole."""
        reply, ttfb = self._post(call)
        try:
            raw = reply.read()
        except TimeoutError as exc:
            reply.close()
            raise GatewayFailure("timeout", "read timeout", 200) from exc
        except (http.client.HTTPException, OSError) as exc:
            reply.close()
            raise GatewayFailure("stream_cut", type(exc).__name__, 200) from exc
        try:
            payload = json.loads(raw)
            text, finish = _answer_text(payload, call.endpoint)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GatewayFailure(
                "bad_response", f"not an OpenAI {call.endpoint} answer", 200
            ) from exc
        prompt, completion = reported_usage(payload)
        if call.endpoint == "embeddings" and prompt is not None:
            completion = 0
        return Completion(text, prompt, completion, ttfb, 200, finish, payload)

    def stream(self, call: ChatCall) -> Generator[Delta, None, Completion]:
        """Yield the upstream's chunks as they arrive; return the Completion; closing stops
        the upstream call. Usage-only chunks are read, not yielded."""
        started = time.perf_counter()
        reply, _ = self._post(call)
        ttfb: float | None = None
        parts: list[str] = []
        prompt: int | None = None
        completion: int | None = None
        finish: str | None = None
        done = False
        try:
            for raw in reply.lines():
                if not raw or not raw.startswith(b"data:"):
                    continue
                data = raw[5:].strip()
                if data == b"[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(data)
                    text, chunk_finish = _delta_text(chunk, call.endpoint)
                except (ValueError, TypeError, AttributeError) as exc:
                    raise GatewayFailure("bad_response", "malformed SSE chunk", 200) from exc
                if isinstance(chunk.get("usage"), dict):
                    prompt, completion = reported_usage(chunk)
                if not chunk.get("choices"):
                    continue
                if ttfb is None:
                    ttfb = time.perf_counter() - started
                finish = chunk_finish or finish
                parts.append(text)
                yield Delta(text, chunk)
        except (http.client.HTTPException, OSError) as exc:
            raise GatewayFailure("stream_cut", type(exc).__name__, 200) from exc
        finally:
            reply.close()
        if not done:
            raise GatewayFailure("stream_cut", "stream ended without [DONE]", 200)
        return Completion("".join(parts), prompt, completion, ttfb or 0.0, 200, finish)

    def probe(self, base_url: str) -> Probe:
        """GET <base_url>/models."""
        started = time.perf_counter()
        try:
            reply = self._send("GET", base_url, "models", None, 2.0)
            status = reply.response.status
            reply.read(MAX_ERROR_BODY if status != 200 else None)
            reply.close()
            ok = status == 200
            detail = "" if ok else f"HTTP {status}"
        except GatewayFailure as exc:
            ok, detail = False, exc.detail
        except (http.client.HTTPException, OSError) as exc:
            ok, detail = False, type(exc).__name__
        return Probe("gateway", ok, (time.perf_counter() - started) * 1000, detail)
