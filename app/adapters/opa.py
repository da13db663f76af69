"""The OPA sidecar, reached through opa-python-client."""

from __future__ import annotations

import http.client
import re
import ssl
import threading
import time
import weakref
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import requests
from opa_client.opa import OpaClient

from app.adapters import http1, json_codec
from app.core.model_status import WindowState
from app.core.ports import Evaluation, PolicyEngineUnavailable, Probe

DECISION_PACKAGE = "symphony.router"
DECISION_RULE = "decision"
BUNDLE = "symphony"
MAX_TRACE_LINES = 4000
_SPACES = re.compile(r"\s{2,}")


def condense_trace(lines: list[str], full: bool) -> tuple[str, ...]:
    """Readable trace lines (`file:row  op expression`), with OPA's backtracking noise dropped."""
    kept: list[str] = []
    for line in lines:
        if not isinstance(line, str):
            continue
        if full and (" Redo " in line or " Index " in line):
            continue
        kept.append(_SPACES.sub("  ", line.rstrip()))
        if len(kept) >= MAX_TRACE_LINES:
            kept.append(f"... trace cut at {MAX_TRACE_LINES} lines")
            break
    return tuple(kept)


def _close_all(connections: list[http1.Connection]) -> None:
    for connection in list(connections):
        connection.close()
    connections.clear()


MAX_IDLE = 64
"""Idle keep-alive connections to the sidecar kept between bursts."""


class OpaPolicyEngine:
    """Evaluates `data.symphony.router.decision` on a running OPA server."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        self._base = url.rstrip("/")
        self._timeout = timeout_s
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 8181)
        self._address = (host, port)
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._host = http1.host_header(host, port, 443 if parts.scheme == "https" else 80)
        self._heads: dict[str, bytes] = {}
        # Decisions (the hot path) go over lean keep-alive connections (app/adapters/http1)
        # taken from a pool of idle ones and given back after each query: as many connections
        # as queries in flight at once, at most MAX_IDLE kept between bursts (not one per
        # thread or greenlet, which under gevent would be one per client connection).
        # Dropping the engine closes them.
        self._idle: list[http1.Connection] = []
        self._idle_lock = threading.Lock()
        weakref.finalize(self, _close_all, self._idle)
        self._client = OpaClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8181),
            ssl=parts.scheme == "https",
            retries=0,
            timeout=timeout_s,
        )
        # The sidecar is local: skip requests' per-call scan of the environment for proxies.
        self._client._session.trust_env = False

    def evaluate(self, opa_input: dict[str, Any], explain: str) -> Evaluation:
        """Query the decision; any transport or shape failure is PolicyEngineUnavailable."""
        params: dict[str, str] = {}
        if explain in ("notes", "full"):
            params["explain"] = explain
            params["pretty"] = "true"
        started = time.perf_counter()
        path = f"/v1/data/{DECISION_PACKAGE.replace('.', '/')}/{DECISION_RULE}"
        if params:
            path = f"{path}?{urlencode(params)}"
        body = self._post(path, json_codec.encode({"input": opa_input}))
        elapsed = time.perf_counter() - started
        if not isinstance(body, dict) or "result" not in body:
            raise PolicyEngineUnavailable("OPA returned no decision (is the policy loaded?)")
        metrics = body.get("metrics")
        return Evaluation(
            result=body["result"],
            trace=condense_trace(body.get("explanation") or [], explain == "full"),
            decision_id=body.get("decision_id"),
            eval_seconds=elapsed,
            metrics=metrics if isinstance(metrics, dict) else {},
        )

    def _take(self, fresh: bool) -> http1.Connection:
        if not fresh:
            with self._idle_lock:
                if self._idle:
                    return self._idle.pop()
        host, port = self._address
        return http1.Connection(host, port, self._timeout, tls=self._tls)

    def _head(self, path: str) -> bytes:
        head = self._heads.get(path)
        if head is None:
            head = http1.request_head(
                "POST", path, self._host, {"Content-Type": "application/json"}
            )
            self._heads[path] = head
        return head

    def _give_back(self, connection: http1.Connection) -> None:
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def _post(self, path: str, payload: bytes) -> Any:
        """POST a query on an idle keep-alive connection; when the sidecar closed it in the
        meantime, once more on a new one (a query has no side effect)."""
        for attempt in (1, 2):
            connection = self._take(fresh=attempt == 2)
            try:
                response = connection.request("POST", self._head(path), payload)
                data = response.read()
            except (http.client.HTTPException, OSError) as exc:
                connection.close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise PolicyEngineUnavailable(
                        f"OPA query failed: {type(exc).__name__}"
                    ) from exc
                continue
            if response.will_close:
                connection.close()
            else:
                self._give_back(connection)
            break
        if response.status != 200:
            raise PolicyEngineUnavailable(f"OPA answered HTTP {response.status}")
        try:
            # orjson: a fifth of json.loads' time; an answer of OPA's carries no integer
            # beyond 64 bits, which orjson would read as a float (app/adapters/json_codec.py).
            return orjson.loads(data)
        except ValueError as exc:
            raise PolicyEngineUnavailable("OPA answered something that is not JSON") from exc

    def bundle_revision(self) -> str | None:
        """The manifest revision of the bundle the sidecar has activated, None if none."""
        try:
            response = self._client._session.get(
                f"{self._base}/v1/data/system/bundles/{BUNDLE}/manifest/revision",
                timeout=self._timeout,
            )
            body = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError):
            return None
        result = body.get("result") if isinstance(body, dict) else None
        return result if isinstance(result, str) else None

    def model_windows(self, now_ns: int) -> dict[str, WindowState]:
        """Each model's usage-window state at `now_ns`, as the policy computes it."""
        try:
            body = self._client.query_rule({"now_ns": now_ns}, DECISION_PACKAGE, "model_windows")
        except (requests.RequestException, ValueError) as exc:
            raise PolicyEngineUnavailable(f"OPA query failed: {type(exc).__name__}") from exc
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise PolicyEngineUnavailable("OPA returned no window states")
        return {
            str(name): WindowState(bool(state.get("open")), str(state.get("detail", "")))
            for name, state in result.items()
            if isinstance(state, dict)
        }

    def probe(self) -> Probe:
        """GET OPA's /health?bundles: ready only once the Symphony bundle is activated."""
        started = time.perf_counter()
        try:
            response = requests.get(f"{self._base}/health?bundles", timeout=self._timeout)
            ok = response.status_code == 200
            detail = "" if ok else f"HTTP {response.status_code} (no bundle activated yet?)"
        except requests.RequestException as exc:
            ok, detail = False, type(exc).__name__
        return Probe("opa", ok, (time.perf_counter() - started) * 1000, detail)
