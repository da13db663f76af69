"""What the stand-in upstream says, in OpenAI's wire format, with no HTTP in sight.

Reply text (the echo, JSON mode, `stop` and the token limit), `usage`, tool-call answers,
embedding vectors, OpenAI's error object, and the JSON bodies and SSE chunks of chat
completions, legacy completions and embeddings. `tests.support.upstream_http` sends them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.upstream import Behaviour

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_EMBEDDING_DIMENSIONS = 8
_MAX_CHOICES = 128  # OpenAI's bound on `n`


class BadRequest(ValueError):
    """A request OpenAI would answer 400, naming the offending parameter."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def error(status: int, message: str | None = None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object for `status`, with its usual message unless given one."""
    kind, code, default = _ERRORS.get(status, ("server_error", None, HTTPStatus(status).phrase))
    return {"error": {"message": message or default, "type": kind, "param": param, "code": code}}


# what the model says -------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _said(body: Mapping[str, Any]) -> str:
    """What the echo repeats: a trailing tool result, else the last user message."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    if messages and messages[-1].get("role") == "tool":
        return _text_of(messages[-1].get("content"))
    users = [m for m in messages if m.get("role") == "user"]
    return _text_of(users[-1].get("content")) if users else ""


def reply_text(body: Mapping[str, Any], text: str | None) -> str:
    """`text`, else the echo (as a JSON object when the request asks for JSON)."""
    if text is not None:
        return text
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in (
        "json_object",
        "json_schema",
    ):
        return json.dumps({"echo": _said(body)})
    return f"echo: {_said(body)}"


def _words(text: str) -> list[str]:
    """Split keeping the spaces, so joining the pieces gives the text back."""
    pieces = text.split(" ")
    return [p if i == len(pieces) - 1 else p + " " for i, p in enumerate(pieces)]


def split_text(text: str, parts: int) -> list[str]:
    """`text` in at most `parts` runs of whole words, as a stream sends it."""
    words = _words(text)
    parts = max(1, min(parts, len(words)))
    size = -(-len(words) // parts)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _split_chars(text: str, parts: int) -> list[str]:
    """Tool arguments are JSON with few spaces, so they stream in character runs."""
    size = max(1, -(-len(text) // max(1, parts)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _max_words(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _stops(body: Mapping[str, Any]) -> list[str]:
    stop = body.get("stop")
    candidates = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    return [s for s in candidates if isinstance(s, str) and s]


def generated(text: str, body: Mapping[str, Any]) -> tuple[str, str]:
    """`text` as a model would end it under `stop` and the token limit, and why it ended."""
    at = [i for i in (text.find(s) for s in _stops(body)) if i >= 0]
    if at:
        text = text[: min(at)]
    words = _words(text)
    limit = _max_words(body)
    if limit is not None and len(words) > limit:
        return "".join(words[:limit]).rstrip(), "length"
    return text, "stop"


def choice_count(body: Mapping[str, Any]) -> int:
    """The request's `n`: how many choices to answer."""
    n = body.get("n")
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_CHOICES:
        raise BadRequest(f"n must be an integer from 1 to {_MAX_CHOICES}", "n")
    return n


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def usage(behaviour: Behaviour, prompt: int, completion: int) -> dict[str, int]:
    """The `usage` object: the counts given, unless `behaviour` overrides them."""
    prompt = prompt if behaviour.prompt_tokens is None else behaviour.prompt_tokens
    if behaviour.completion_tokens is not None:
        completion = behaviour.completion_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_prompt_tokens(body: Mapping[str, Any]) -> int:
    """A chat request's prompt tokens, counted as words plus a few per message."""
    messages = body.get("messages", [])
    return sum(len(_text_of(m.get("content")).split()) + 3 for m in messages if isinstance(m, dict))


# chat completions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatAnswer:
    """One choice of a chat completion, whole and as stream deltas."""

    message: dict[str, Any]
    opening: dict[str, Any]  # the first delta
    pieces: list[dict[str, Any]]  # the deltas after it
    finish: str
    completion_tokens: int


@dataclass(frozen=True)
class EventStream:
    """An SSE answer: `opening`, each of `steps` (what `cut_after` counts), `closing`, `last`."""

    opening: list[dict[str, Any]]
    steps: list[list[dict[str, Any]]]
    closing: list[dict[str, Any]]
    last: dict[str, Any] | None


def text_answer(reply: str, finish: str, chunks: int) -> ChatAnswer:
    """A chat choice that says `reply`, streamed in `chunks` pieces."""
    return ChatAnswer(
        message={"role": "assistant", "content": reply, "refusal": None},
        opening={"role": "assistant", "content": "", "refusal": None},
        pieces=[{"content": piece} for piece in split_text(reply, chunks)],
        finish=finish,
        completion_tokens=len(reply.split()),
    )


def wanted_call(body: Mapping[str, Any], behaviour: Behaviour) -> tuple[str, str, str] | None:
    """The (name, arguments, id) to call, when tools are offered and the model is told to."""
    call = behaviour.tool_call
    if call is None or not body.get("tools") or body.get("tool_choice") == "none":
        return None
    last = body["messages"][-1]
    if isinstance(last, dict) and last.get("role") == "tool":  # the result is in: say so
        return None
    arguments = call.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return str(call["name"]), arguments, str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")


def tool_answer(name: str, arguments: str, call_id: str, chunks: int) -> ChatAnswer:
    """A chat choice that calls one tool, its arguments streamed in `chunks` pieces."""
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    first: dict[str, Any] = {"index": 0, "id": call_id, "type": "function"}
    first["function"] = {"name": name, "arguments": ""}  # the arguments follow in pieces
    return ChatAnswer(
        message={"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]},
        opening={"role": "assistant", "content": None, "refusal": None, "tool_calls": [first]},
        pieces=[
            {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            for piece in _split_chars(arguments, chunks)
        ],
        finish="tool_calls",
        completion_tokens=len(arguments.split()),
    )


def chat_completion(
    completion_id: str, model: str, answers: Sequence[ChatAnswer]
) -> dict[str, Any]:
    """A whole `chat.completion`, without `usage`."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "message": a.message, "logprobs": None, "finish_reason": a.finish}
            for i, a in enumerate(answers)
        ],
    }


def chat_stream(
    body: Mapping[str, Any],
    completion_id: str,
    model: str,
    answers: Sequence[ChatAnswer],
    totals: dict[str, int] | None,
) -> EventStream:
    """`answers` as `chat.completion.chunk`s, closed by `totals` when given and asked for."""
    include_usage = _include_usage(body)
    created = int(time.time())

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if include_usage:
            event["usage"] = None
        return event

    last = None
    if include_usage and totals is not None:
        last = {**chunk(0, {}, None), "choices": [], "usage": totals}
    return EventStream(
        opening=[chunk(i, a.opening, None) for i, a in enumerate(answers)],
        steps=[
            [chunk(i, a.pieces[step], None) for i, a in enumerate(answers)]
            for step in range(len(answers[0].pieces))
        ],
        closing=[chunk(i, {}, a.finish) for i, a in enumerate(answers)],
        last=last,
    )


# legacy completions --------------------------------------------------------------------------


def completion_texts(
    body: Mapping[str, Any], prompts: Sequence[tuple[str, int]], text: str | None, n: int
) -> list[tuple[str, str]]:
    """Each choice's (text, finish reason): `n` per prompt, `text` else the echo."""
    texts: list[tuple[str, str]] = []
    for prompt, _ in prompts:
        said = text if text is not None else f"echo: {prompt}"
        reply, finish = generated(said, body)
        texts += [(prompt + reply if body.get("echo") is True else reply, finish)] * n
    return texts


def _text_completion_event(
    completion_id: str, created: int, model: str, choices: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
    }


def _text_choice(index: int, text: str, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}


def text_completion(
    completion_id: str, model: str, texts: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """A whole `text_completion`, without `usage`."""
    choices = [_text_choice(i, text, finish) for i, (text, finish) in enumerate(texts)]
    return _text_completion_event(completion_id, int(time.time()), model, choices)


def text_completion_stream(
    body: Mapping[str, Any],
    completion_id: str,
    model: str,
    texts: Sequence[tuple[str, str]],
    chunks: int,
    totals: dict[str, int] | None,
) -> EventStream:
    """`texts` as streamed `text_completion`s, closed by `totals` when given and asked for."""
    include_usage = _include_usage(body)
    created = int(time.time())

    def chunk(index: int, text: str, finish: str | None) -> dict[str, Any]:
        choices = [_text_choice(index, text, finish)]
        streamed = _text_completion_event(completion_id, created, model, choices)
        return {**streamed, "usage": None} if include_usage else streamed

    last = None
    if include_usage and totals is not None:
        last = {**_text_completion_event(completion_id, created, model, []), "usage": totals}
    pieces = [split_text(text, chunks) for text, _ in texts]
    return EventStream(
        opening=[],
        steps=[
            [chunk(i, p[step], None) for i, p in enumerate(pieces) if step < len(p)]
            for step in range(max(len(p) for p in pieces))
        ],
        closing=[chunk(i, "", finish) for i, (_, finish) in enumerate(texts)],
        last=last,
    )


# prompts and embeddings ----------------------------------------------------------------------


def _is_tokens(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def inputs(value: Any, param: str) -> list[tuple[str, int]]:
    """A prompt or embedding input as (text, tokens) items: a string, strings, or token arrays."""
    items = [value] if isinstance(value, str) or _is_tokens(value) else value
    found: list[tuple[str, int]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str) and item:
            found.append((item, len(item.split())))
        elif _is_tokens(item):
            found.append((" ".join(map(str, item)), len(item)))
        else:
            found = []
            break
    if not found:
        raise BadRequest(
            f"'{param}' must be a non-empty string, array of strings, or token array(s)", param
        )
    return found


def _embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector that depends only on the text, rounded to float32 as OpenAI sends them."""
    raw = hashlib.shake_256(text.encode()).digest(4 * dimensions)
    values = [v / 2**31 for v in struct.unpack(f"<{dimensions}i", raw)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embedding_options(body: Mapping[str, Any]) -> tuple[int, str]:
    """The request's (dimensions, encoding_format), checked."""
    dimensions = body.get("dimensions", _EMBEDDING_DIMENSIONS)
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise BadRequest("dimensions must be a positive integer", "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise BadRequest("encoding_format must be 'float' or 'base64'", "encoding_format")
    return dimensions, str(encoding)


def embeddings_data(
    items: Sequence[tuple[str, int]], dimensions: int, encoding: str
) -> list[dict[str, Any]]:
    """The `data` of an embeddings answer: one vector per input, as floats or base64."""
    data: list[dict[str, Any]] = []
    for index, (text, _) in enumerate(items):
        vector = _embedding(text, dimensions)
        encoded: Any = vector
        if encoding == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return data
