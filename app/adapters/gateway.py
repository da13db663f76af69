"""The OpenAI-compatible gateway client: pooled, with timeouts, streaming chunk by chunk."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.core.ports import ChatCall, Completion, GatewayFailure, Probe


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
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=64, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._timeout = (connect_timeout_s, read_timeout_s)

    def _post(self, call: ChatCall) -> tuple[requests.Response, float]:
        body: dict[str, Any] = {
            "model": call.upstream_model,
            "messages": list(call.messages),
            "max_tokens": call.max_tokens,
            "stream": call.stream,
        }
        if call.temperature is not None:
            body["temperature"] = call.temperature
        if call.stream:
            body["stream_options"] = {"include_usage": True}
        started = time.perf_counter()
        try:
            response = self._session.post(
                f"{call.base_url}/chat/completions",
                json=body,
                headers=self._headers,
                timeout=self._timeout,
                stream=call.stream,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise GatewayFailure("timeout", type(exc).__name__) from exc
        except requests.ConnectionError as exc:
            raise GatewayFailure("connection_error", type(exc).__name__) from exc
        except requests.RequestException as exc:
            raise GatewayFailure("connection_error", type(exc).__name__) from exc
        ttfb = time.perf_counter() - started
        if response.status_code != 200:
            failure = _failure_for_status(response)
            response.close()
            raise failure
        return response, ttfb

    def complete(self, call: ChatCall) -> Completion:
        """One non-streaming chat completion."""
        response, ttfb = self._post(call)
        try:
            payload = response.json()
            text = payload["choices"][0]["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GatewayFailure("bad_response", "not an OpenAI chat completion", 200) from exc
        except requests.RequestException as exc:
            raise GatewayFailure("timeout", type(exc).__name__, 200) from exc
        prompt, completion = reported_usage(payload)
        return Completion(str(text), prompt, completion, ttfb)

    def stream(self, call: ChatCall) -> Generator[str, None, Completion]:
        """Yield text deltas as they arrive; return the Completion; closing stops upstream."""
        started = time.perf_counter()
        response, _ = self._post(call)
        ttfb: float | None = None
        parts: list[str] = []
        prompt: int | None = None
        completion: int | None = None
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
                except ValueError as exc:
                    raise GatewayFailure("bad_response", "malformed SSE chunk", 200) from exc
                if chunk.get("usage"):
                    prompt, completion = reported_usage(chunk)
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        if ttfb is None:
                            ttfb = time.perf_counter() - started
                        parts.append(delta)
                        yield delta
        except requests.RequestException as exc:
            raise GatewayFailure("stream_cut", type(exc).__name__, 200) from exc
        finally:
            response.close()
        if not done:
            raise GatewayFailure("stream_cut", "stream ended without [DONE]", 200)
        return Completion("".join(parts), prompt, completion, ttfb or 0.0)

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
