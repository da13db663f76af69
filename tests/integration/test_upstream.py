"""The stand-in upstream speaks the OpenAI wire format as the official SDK understands it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
import requests
from openai.types.chat import ChatCompletionMessageParam

from tests.support.upstream import RemoteUpstream, UpstreamServer

API_KEY = "sk-stand-in"
MODEL = "gemini-1.5-pro"
QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "name three primes"}]


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    """A stand-in requiring API_KEY."""
    with UpstreamServer(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def sdk(upstream: UpstreamServer) -> Iterator[openai.OpenAI]:
    """The official client, without its own retries so every answer is seen."""
    client = openai.OpenAI(base_url=upstream.url, api_key=API_KEY, max_retries=0, timeout=10)
    yield client
    client.close()


def test_non_streaming_completion_has_echo_and_usage(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    reply = sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    assert reply.object == "chat.completion"
    assert reply.model == MODEL
    assert reply.choices[0].message.content == "echo: name three primes"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (6, 4)
    assert reply.usage.total_tokens == 10
    [seen] = upstream.requests_for(MODEL)
    assert (seen.method, seen.path, seen.bearer) == ("POST", "/v1/chat/completions", True)
    assert seen.headers["Authorization"] == "<redacted>"
    assert seen.body["messages"] == QUESTION


def test_streaming_with_include_usage_ends_with_a_usage_chunk(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.ok(MODEL, text="one two three four five six seven eight")

    chunks = list(
        sdk.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) == 4
    assert "".join(pieces) == "one two three four five six seven eight"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_without_include_usage_or_with_no_usage_has_none(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    plain = list(sdk.chat.completions.create(model=MODEL, messages=QUESTION, stream=True))
    upstream.no_usage(MODEL)
    asked = list(
        sdk.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    flat = sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    assert all(c.usage is None for c in plain + asked)
    assert plain[-1].choices[0].finish_reason == "stop"
    assert asked[-1].choices[0].finish_reason == "stop"
    assert flat.usage is None


def test_429_twice_surfaces_as_rate_limit_error_then_recovers(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.fail(MODEL, status=429, times=2, retry_after=3)

    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.chat.completions.create(model=MODEL, messages=QUESTION)
        assert caught.value.status_code == 429
        assert caught.value.response.headers["retry-after"] == "3"
        assert caught.value.code == "rate_limit_exceeded"
    reply = sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    assert reply.choices[0].message.content == "echo: name three primes"
    assert len(upstream.requests_for(MODEL)) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, openai.InternalServerError), (503, openai.InternalServerError)],
)
def test_server_errors_surface_with_openai_error_body(
    upstream: UpstreamServer, sdk: openai.OpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    upstream.fail(MODEL, status=status)

    with pytest.raises(error) as caught:
        sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    assert caught.value.status_code == status
    assert caught.value.type == "server_error"


def test_other_models_are_not_affected(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    upstream.fail(MODEL, status=500)

    reply = sdk.chat.completions.create(model="smollm2", messages=QUESTION)

    assert reply.choices[0].message.content == "echo: name three primes"


def test_cut_stream_raises_in_the_sdk(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    upstream.ok(MODEL, text="a b c d e f g h")
    upstream.cut(MODEL, after_chunks=2)
    received: list[str] = []

    with pytest.raises(openai.APIConnectionError):
        stream = sdk.chat.completions.create(model=MODEL, messages=QUESTION, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    assert "".join(received) == "a b c d "


def test_wrong_key_is_401_in_openai_shape(upstream: UpstreamServer) -> None:
    client = openai.OpenAI(base_url=upstream.url, api_key="wrong", max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODEL, messages=QUESTION)

    assert caught.value.code == "invalid_api_key"


def test_models_list(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    ids = [m.id for m in sdk.models.list()]

    assert MODEL in ids
    assert "smollm2" in ids


def test_slow_delays_the_answer(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    upstream.slow(MODEL, 0.5)

    with pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model=MODEL, messages=QUESTION, timeout=0.2)


def test_remote_control_steers_and_reads_records(upstream: UpstreamServer) -> None:
    remote = RemoteUpstream(upstream.url)
    remote.fail(MODEL, status=503, times=1)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    body = {"model": MODEL, "messages": QUESTION}

    first = requests.post(f"{upstream.url}/chat/completions", json=body, headers=headers, timeout=5)
    second = requests.post(
        f"{upstream.url}/chat/completions", json=body, headers=headers, timeout=5
    )
    bad = requests.post(
        f"{upstream.base_url}/_control", json={"model": MODEL, "nope": 1}, timeout=5
    )

    assert first.status_code == 503
    assert first.headers["Retry-After"] == "1"
    assert first.json()["error"]["type"] == "server_error"
    assert second.json()["choices"][0]["message"]["content"] == "echo: name three primes"
    assert bad.status_code == 400
    assert [r["bearer"] for r in remote.requests_for(MODEL)] == [True, True]
    remote.reset()
    assert upstream.requests == []


def test_bad_body_is_400_naming_the_param(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=[])

    assert caught.value.param == "messages"
