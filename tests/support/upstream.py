"""A local stand-in for a hosted OpenAI-compatible provider, steerable per model.

Hosted providers cannot be reached from tests, so this server speaks their wire format
(chat completions with tool calls, stop sequences and JSON mode; legacy completions;
embeddings; SSE chunks, `usage`, OpenAI's error object) and can be told, per upstream model
name, to call a tool, to answer an HTTP error, to be slow, to cut a stream or to leave out
usage. It records every request for assertions. Steer it in-process (`UpstreamServer`) or
from another process through `POST /_control` (`RemoteUpstream`), e.g. when the proxy runs
under gunicorn.

Run alone: `python -m tests.support.upstream --port 9100`.
"""

from __future__ import annotations

import abc
import argparse
import dataclasses
import itertools
import json
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.upstream_http import UpstreamHTTPServer

ANY_MODEL = "*"
DEFAULT_MODELS = ("gpt-4o-mini", "gemini-1.5-pro", "grok-code-fast-1", "smollm2")


@dataclass(frozen=True)
class Behaviour:
    """How the stand-in answers one model; fields compose (slow and no usage, say)."""

    text: str | None = None  # None: "echo: <last user message>"
    status: int | None = None  # answer this HTTP error instead of a completion
    times: int | None = None  # how many requests get `status`; None: every one
    retry_after: float | None = None  # Retry-After header on `status` answers
    delay_s: float = 0.0  # before the status line and headers
    chunk_delay_s: float = 0.0  # between stream chunks
    cut_after: int | None = None  # content chunks sent before the connection is dropped
    usage: bool = True
    chunks: int = 4  # how many content chunks a streamed reply is split into
    prompt_tokens: int | None = None  # None: counted from the messages
    completion_tokens: int | None = None  # None: counted from the reply
    # Error answers echo the presented credential and the prompt, as careless gateways do.
    echo_in_errors: bool = False
    # {"name": str, "arguments": JSON string or object, "id"?: str}: when the request offers
    # `tools` (and tool_choice is not "none") and its last message is not a tool result,
    # answer with this call instead of text.
    tool_call: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        call = self.tool_call
        if call is None:
            return
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("name"), str)
            or not isinstance(call.get("arguments", "{}"), str | dict)
            or not isinstance(call.get("id", ""), str)
            or set(call) - {"name", "arguments", "id"}
        ):
            raise ValueError(
                "tool_call takes a string `name`, `arguments` (a JSON string or object)"
                " and optionally a string `id`"
            )

    @classmethod
    def from_json(cls, fields: Mapping[str, Any], base: Behaviour | None = None) -> Behaviour:
        """`base` with the given fields replaced; unknown fields raise ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown behaviour fields: {', '.join(unknown)}")
        return dataclasses.replace(base or cls(), **dict(fields))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it (the Authorization value is not kept)."""

    method: str
    path: str
    headers: dict[str, str]
    bearer: bool  # whether an `Authorization: Bearer <non-empty>` header came with it
    body: Any
    at: float = field(default_factory=time.time)

    @property
    def model(self) -> str | None:
        """The request body's `model`, if any."""
        if isinstance(self.body, dict):
            model = self.body.get("model")
            return model if isinstance(model, str) else None
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return dataclasses.asdict(self)


class _Steering(abc.ABC):
    """Shorthands over `update(model, **fields)`, shared by the server and its remote client."""

    @abc.abstractmethod
    def update(self, model: str, **fields: Any) -> None:
        """Merge `fields` into `model`'s behaviour."""

    @abc.abstractmethod
    def restore(self, model: str) -> None:
        """Answer `model` normally again."""

    def ok(self, model: str, text: str | None = None) -> None:
        """Answer `model` normally, with `text` (or the echo) as the reply."""
        self.restore(model)
        if text is not None:
            self.update(model, text=text)

    def fail(
        self, model: str, status: int = 429, times: int | None = None, retry_after: float | None = 1
    ) -> None:
        """Answer `status` (`times` times, or always), with Retry-After on 429 and 503."""
        keep_retry = status in (429, 503)
        self.update(
            model, status=status, times=times, retry_after=retry_after if keep_retry else None
        )

    def slow(self, model: str, seconds: float) -> None:
        """Wait `seconds` before answering."""
        self.update(model, delay_s=seconds)

    def slow_stream(self, model: str, seconds: float) -> None:
        """Wait `seconds` between stream chunks."""
        self.update(model, chunk_delay_s=seconds)

    def cut(self, model: str, after_chunks: int = 1) -> None:
        """Drop the connection after `after_chunks` content chunks, without [DONE]."""
        self.update(model, cut_after=after_chunks)

    def no_usage(self, model: str) -> None:
        """Leave `usage` out of answers."""
        self.update(model, usage=False)

    def call_tool(self, model: str, name: str, arguments: str | Mapping[str, Any] = "{}") -> None:
        """Answer requests offering tools with a call to `name` (arguments as JSON text)."""
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        self.update(model, tool_call={"name": name, "arguments": text})


class UpstreamServer(_Steering):
    """The stand-in, served from a thread on 127.0.0.1 (a free port unless one is given)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.api_key = api_key
        self.models = list(models)
        self._lock = threading.Lock()
        self._behaviours: dict[str, Behaviour] = {}
        self._records: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._httpd: UpstreamHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> UpstreamServer:
        """Bind and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._httpd = UpstreamHTTPServer((self.host, self.requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> UpstreamServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._httpd is None:
            raise RuntimeError("the stand-in upstream is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, where `/_control` lives."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI base URL, `http://127.0.0.1:PORT/v1`."""
        return f"{self.base_url}/v1"

    # steering ----------------------------------------------------------------------------

    def behaviour(self, model: str) -> Behaviour:
        """What `model` gets now (its own behaviour, else the `*` one, else the default)."""
        with self._lock:
            return self._behaviours.get(model) or self._behaviours.get(ANY_MODEL) or Behaviour()

    def set_behaviour(self, model: str, behaviour: Behaviour) -> None:
        """Replace `model`'s behaviour (`*`: every model without its own)."""
        with self._lock:
            self._behaviours[model] = behaviour

    def update(self, model: str, **fields: Any) -> None:
        """Merge `fields` into `model`'s behaviour."""
        with self._lock:
            current = self._behaviours.get(model) or Behaviour()
            self._behaviours[model] = Behaviour.from_json(fields, current)

    def restore(self, model: str) -> None:
        """Answer `model` normally again."""
        with self._lock:
            self._behaviours.pop(model, None)

    def reset(self) -> None:
        """Forget every behaviour and every recorded request."""
        with self._lock:
            self._behaviours.clear()
            self._records.clear()

    # records ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (control calls excluded), oldest first."""
        with self._lock:
            return list(self._records)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        """The requests whose body named `model`."""
        return [r for r in self.requests if r.model == model]

    def last_body(self, model: str) -> Any:
        """The body of the latest request naming `model`; LookupError if there was none."""
        seen = self.requests_for(model)
        if not seen:
            raise LookupError(f"no request named {model!r}")
        return seen[-1].body

    def behaviours(self) -> dict[str, Behaviour]:
        """Every behaviour set, by model."""
        with self._lock:
            return dict(self._behaviours)

    # used by the HTTP handler ---------------------------------------------------------------

    def record(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> None:
        """Keep a request, without its Authorization value."""
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        kept = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if auth:
            kept["Authorization"] = "<redacted>"
        bearer = auth.startswith("Bearer ") and bool(auth[7:].strip())
        with self._lock:
            self._records.append(RecordedRequest(method, path, kept, bearer, body))

    def take(self, model: str) -> tuple[Behaviour, int | None]:
        """The behaviour for this request, and the error status it must answer (consumed)."""
        with self._lock:
            key = model if model in self._behaviours else ANY_MODEL
            behaviour = self._behaviours.get(key) or Behaviour()
            if behaviour.status is None:
                return behaviour, None
            if behaviour.times is not None:
                remaining = behaviour.times - 1
                self._behaviours[key] = dataclasses.replace(
                    behaviour,
                    times=remaining if remaining > 0 else None,
                    status=behaviour.status if remaining > 0 else None,
                )
            return behaviour, behaviour.status

    def next_completion_id(self, prefix: str = "chatcmpl") -> str:
        """A fresh `chatcmpl-...` id (`cmpl-...` for legacy completions)."""
        return f"{prefix}-standin{next(self._ids):06d}"


class RemoteUpstream(_Steering):
    """Steers a stand-in running in another process through its `/_control` endpoint."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.timeout_s = timeout_s

    def _post(self, payload: Mapping[str, Any]) -> None:
        response = requests.post(f"{self.base_url}/_control", json=payload, timeout=self.timeout_s)
        response.raise_for_status()

    def update(self, model: str, **fields: Any) -> None:
        """Merge `fields` into `model`'s behaviour."""
        self._post({"model": model, **fields})

    def restore(self, model: str) -> None:
        """Answer `model` normally again."""
        self._post({"model": model, "reset": True})

    def reset(self) -> None:
        """Forget every behaviour and every recorded request."""
        self._post({"reset": True})

    def requests_for(self, model: str | None = None) -> list[dict[str, Any]]:
        """Recorded requests (as JSON), all or those naming `model`."""
        params = {"model": model} if model else {}
        response = requests.get(f"{self.base_url}/_requests", params=params, timeout=self.timeout_s)
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()["requests"]
        return records

    def last_body(self, model: str) -> Any:
        """The body of the latest request naming `model`; LookupError if there was none."""
        seen = self.requests_for(model)
        if not seen:
            raise LookupError(f"no request named {model!r}")
        return seen[-1]["body"]


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the stand-in until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="require `Authorization: Bearer KEY`")
    parser.add_argument("--model", action="append", help="a model for /v1/models (repeatable)")
    args = parser.parse_args(argv)
    server = UpstreamServer(
        args.host, args.port, api_key=args.api_key, models=args.model or DEFAULT_MODELS
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        print(f"stand-in upstream listening on {server.url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
