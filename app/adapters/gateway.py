"""The OpenAI-compatible gateway client: pooled, with timeouts, streaming chunk by chunk.

It forwards the client's JSON and returns the upstream's JSON as they are, reading only what
Symphony needs (text, finish reason, usage). The official SDK's typed objects would not do:
they drop fields they do not know and add nulls for the ones they do, so a tool call, a
`logprobs` or next month's field would not arrive as sent. Redirects are never followed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.core.ports import ChatCall, Completion, Delta, GatewayFailure, Probe


def _failure_for_status(response: requests.Response) -> GatewayFailure:
    status = response.status_code
    if 300 <= status < 400:
        # Redirects are never followed: the gateway key must not travel to another host.
        return GatewayFailure("http_3xx", f"HTTP {status}: redirect not followed", status)
    try:
        detail = str(response.json().get("error", {}).get("message", ""))[:300]
    except (ValueError, AttributeError):
        detail = response.text[:300]
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


class HttpGateway:
    """Calls `<base_url>/chat/completions` with a shared, pooled session."""

    def __init__(self, key: str | None, connect_timeout_s: float, read_timeout_s: float) -> None:
        self._session = requests.Session()
        # The environment (proxies, CA bundle) is read once per upstream, not on every call.
        self._session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self._session.verify = bundle
        self._proxies: dict[str, dict[str, str]] = {}
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=64, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._timeout = (connect_timeout_s, read_timeout_s)

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

    def _proxies_for(self, base_url: str) -> dict[str, str]:
        proxies = self._proxies.get(base_url)
        if proxies is None:
            proxies = self._proxies[base_url] = requests.utils.get_environ_proxies(base_url)
        return proxies

    def _post(self, call: ChatCall) -> tuple[requests.Response, float]:
        started = time.perf_counter()
        timeout = self._timeout
        if call.read_timeout_s is not None:
            timeout = (self._timeout[0], call.read_timeout_s)
        try:
            response = self._session.post(
                f"{call.base_url}/{call.endpoint}",
                json=self.body(call),
                headers=self._headers,
                timeout=timeout,
                proxies=self._proxies_for(call.base_url),
                stream=call.stream,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise GatewayFailure("timeout", type(exc).__name__) from exc
        except requests.RequestException as exc:
            raise GatewayFailure("connection_error", type(exc).__name__) from exc
        ttfb = time.perf_counter() - started
        if response.status_code != 200:
            failure = _failure_for_status(response)
            response.close()
            raise failure
        return response, ttfb

    def complete(self, call: ChatCall) -> Completion:
        """One non-streaming call; the upstream's JSON answer is kept whole."""
        response, ttfb = self._post(call)
        try:
            payload = response.json()
            text, finish = _answer_text(payload, call.endpoint)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GatewayFailure(
                "bad_response", f"not an OpenAI {call.endpoint} answer", 200
            ) from exc
        except requests.RequestException as exc:
            raise GatewayFailure("timeout", type(exc).__name__, 200) from exc
        prompt, completion = reported_usage(payload)
        if call.endpoint == "embeddings" and prompt is not None:
            completion = 0
        return Completion(text, prompt, completion, ttfb, 200, finish, payload)

    def stream(self, call: ChatCall) -> Generator[Delta, None, Completion]:
        """Yield the upstream's chunks as they arrive; return the Completion; closing stops
        the upstream call. Usage-only chunks are read, not yielded."""
        started = time.perf_counter()
        response, _ = self._post(call)
        ttfb: float | None = None
        parts: list[str] = []
        prompt: int | None = None
        completion: int | None = None
        finish: str | None = None
        done = False
        try:
            for raw in response.iter_lines(chunk_size=None):
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
        except requests.RequestException as exc:
            raise GatewayFailure("stream_cut", type(exc).__name__, 200) from exc
        finally:
            response.close()
        if not done:
            raise GatewayFailure("stream_cut", "stream ended without [DONE]", 200)
        return Completion("".join(parts), prompt, completion, ttfb or 0.0, 200, finish)

    def probe(self, base_url: str) -> Probe:
        """GET <base_url>/models."""
        started = time.perf_counter()
        try:
            response = self._session.get(
                f"{base_url}/models",
                headers=self._headers,
                timeout=(1.0, 2.0),
                allow_redirects=False,
            )
            ok = response.status_code == 200
            detail = "" if ok else f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            ok, detail = False, type(exc).__name__
        return Probe("gateway", ok, (time.perf_counter() - started) * 1000, detail)
