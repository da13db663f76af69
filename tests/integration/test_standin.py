"""The stand-in's wider OpenAI surface, as the official SDK parses it.

Tool calls, stop sequences, JSON mode, token limits, several choices, legacy completions
and embeddings: everything the proxy may forward must come back in the shape OpenAI's own
client understands, or the tests built on the stand-in prove nothing.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)

from tests.support.upstream import RemoteUpstream, UpstreamServer

API_KEY = "sk-stand-in"
MODEL = "gpt-4o-mini"
EMBEDDER = "text-embedding-3-small"
QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "what is the weather in Berlin"}
]
WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ARGUMENTS = '{"city": "Berlin", "unit": "celsius"}'


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


def _function_call(call: object) -> ChatCompletionMessageFunctionToolCall:
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    return call


# tool calls ----------------------------------------------------------------------------------


def test_tool_call_round_trip(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    upstream.call_tool(MODEL, "get_weather", ARGUMENTS)

    first = sdk.chat.completions.create(model=MODEL, messages=QUESTION, tools=[WEATHER])
    [choice] = first.choices
    call = _function_call(choice.message.tool_calls and choice.message.tool_calls[0])
    answer = sdk.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],
        messages=[
            *QUESTION,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.function.name,
                            "arguments": call.function.arguments,
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ],
    )

    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert len(choice.message.tool_calls or []) == 1
    assert call.id.startswith("call_") and len(call.id) > len("call_")
    assert (call.type, call.function.name) == ("function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Berlin", "unit": "celsius"}
    assert first.usage is not None and first.usage.completion_tokens == 4
    assert answer.choices[0].message.content == "echo: sunny, 21 C"
    assert answer.choices[0].message.tool_calls is None
    assert answer.choices[0].finish_reason == "stop"
    assert upstream.last_body(MODEL)["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "sunny, 21 C",
    }


def test_streamed_tool_call_assembles_from_argument_pieces(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.update(
        MODEL, tool_call={"name": "get_weather", "arguments": ARGUMENTS, "id": "call_fixed"}
    )

    chunks = list(
        sdk.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            tools=[WEATHER],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    calls: dict[int, dict[str, str]] = {}
    pieces = 0
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
                    pieces += bool(delta.function.arguments)

    assert calls == {0: {"id": "call_fixed", "name": "get_weather", "arguments": ARGUMENTS}}
    assert pieces == 4
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content is None
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes == [None] * (len(finishes) - 1) + ["tool_calls"]
    assert chunks[-2].choices[0].delta.tool_calls is None
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_streamed_tool_call_satisfies_the_sdk_accumulator(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.call_tool(MODEL, "get_weather", {"city": "Berlin"})

    with sdk.chat.completions.stream(model=MODEL, messages=QUESTION, tools=[WEATHER]) as stream:
        final = stream.get_final_completion()

    [choice] = final.choices
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Berlin"}')


def test_tool_call_only_when_tools_are_offered_and_allowed(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.call_tool(MODEL, "get_weather", ARGUMENTS)

    bare = sdk.chat.completions.create(model=MODEL, messages=QUESTION)
    refused = sdk.chat.completions.create(
        model=MODEL, messages=QUESTION, tools=[WEATHER], tool_choice="none"
    )

    for reply in (bare, refused):
        assert reply.choices[0].message.content == "echo: what is the weather in Berlin"
        assert reply.choices[0].message.tool_calls is None
        assert reply.choices[0].finish_reason == "stop"


def test_cut_tool_stream_raises_in_the_sdk(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    upstream.call_tool(MODEL, "get_weather", ARGUMENTS)
    upstream.cut(MODEL, after_chunks=1)
    received = ""

    with pytest.raises(openai.APIConnectionError):
        stream = sdk.chat.completions.create(
            model=MODEL, messages=QUESTION, tools=[WEATHER], stream=True
        )
        for chunk in stream:
            for delta in chunk.choices[0].delta.tool_calls or []:
                if delta.function is not None:
                    received += delta.function.arguments or ""

    assert ARGUMENTS.startswith(received) and 0 < len(received) < len(ARGUMENTS)


# stop, JSON mode, limits, choices --------------------------------------------------------------


@pytest.mark.parametrize("stop", ["beta", ["zzz", "gamma", "beta"]])
def test_stop_cuts_before_the_first_stop_string(
    upstream: UpstreamServer, sdk: openai.OpenAI, stop: str | list[str]
) -> None:
    upstream.ok(MODEL, text="alpha beta gamma delta")

    flat = sdk.chat.completions.create(model=MODEL, messages=QUESTION, stop=stop)
    chunks = list(
        sdk.chat.completions.create(model=MODEL, messages=QUESTION, stop=stop, stream=True)
    )

    assert flat.choices[0].message.content == "alpha "
    assert flat.choices[0].finish_reason == "stop"
    assert flat.usage is not None and flat.usage.completion_tokens == 1
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == "alpha "
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert upstream.last_body(MODEL)["stop"] == stop


def test_stop_applies_to_the_echo(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(model=MODEL, messages=QUESTION, stop=" in ")

    assert reply.choices[0].message.content == "echo: what is the weather"


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {
            "type": "json_schema",
            "json_schema": {
                "name": "echo",
                "schema": {"type": "object", "properties": {"echo": {"type": "string"}}},
            },
        },
    ],
)
def test_json_response_format_answers_a_json_object(
    sdk: openai.OpenAI, response_format: Any
) -> None:
    reply = sdk.chat.completions.create(
        model=MODEL, messages=QUESTION, response_format=response_format
    )

    assert json.loads(reply.choices[0].message.content or "") == {
        "echo": "what is the weather in Berlin"
    }


def test_json_response_format_keeps_a_set_text(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.ok(MODEL, text='{"temperature": 21}')

    reply = sdk.chat.completions.create(
        model=MODEL, messages=QUESTION, response_format={"type": "json_object"}
    )

    assert reply.choices[0].message.content == '{"temperature": 21}'


def test_max_tokens_ends_with_length_in_both_modes(sdk: openai.OpenAI) -> None:
    flat = sdk.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=3)
    chunks = list(
        sdk.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=3, stream=True)
    )

    assert flat.choices[0].message.content == "echo: what is"
    assert flat.choices[0].finish_reason == "length"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: what is"
    assert chunks[-1].choices[0].finish_reason == "length"


def test_n_choices_and_sampling_fields_are_accepted_and_recorded(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    reply = sdk.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        n=3,
        seed=7,
        top_p=0.5,
        user="u-1",
        presence_penalty=0.1,
        frequency_penalty=0.2,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=2,
        tools=[WEATHER],
        tool_choice="auto",
        parallel_tool_calls=False,
    )
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=QUESTION, n=2, stream=True))

    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert {c.message.content for c in reply.choices} == {"echo: what is the weather in Berlin"}
    assert reply.usage is not None and reply.usage.completion_tokens == 3 * 7
    body = upstream.requests_for(MODEL)[0].body
    assert {k: body[k] for k in ("n", "seed", "top_p", "user", "logit_bias", "logprobs")} == {
        "n": 3,
        "seed": 7,
        "top_p": 0.5,
        "user": "u-1",
        "logit_bias": {"50256": -100},
        "logprobs": True,
    }
    assert (body["presence_penalty"], body["frequency_penalty"]) == (0.1, 0.2)
    assert (body["top_logprobs"], body["tool_choice"], body["parallel_tool_calls"]) == (
        2,
        "auto",
        False,
    )
    for index in (0, 1):
        text = "".join(
            c.choices[0].delta.content or "" for c in chunks if c.choices[0].index == index
        )
        assert text == "echo: what is the weather in Berlin"


def test_n_out_of_range_is_400_naming_n(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=QUESTION, n=0)

    assert caught.value.param == "n"


# embeddings ----------------------------------------------------------------------------------


def test_embeddings_are_deterministic_unit_vectors(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    first = sdk.embeddings.create(
        model=EMBEDDER, input=["red apple", "green pear"], encoding_format="float"
    )
    again = sdk.embeddings.create(model=EMBEDDER, input="red apple", encoding_format="float")
    wide = sdk.embeddings.create(
        model=EMBEDDER, input=[[101, 102, 103]], dimensions=32, encoding_format="float"
    )

    assert (first.object, first.model) == ("list", EMBEDDER)
    assert [(d.object, d.index, len(d.embedding)) for d in first.data] == [
        ("embedding", 0, 8),
        ("embedding", 1, 8),
    ]
    assert first.data[0].embedding == again.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding
    assert sum(v * v for v in first.data[1].embedding) == pytest.approx(1.0, abs=1e-6)
    assert (first.usage.prompt_tokens, first.usage.total_tokens) == (4, 4)
    assert len(wide.data[0].embedding) == 32
    assert wide.usage.prompt_tokens == 3
    assert upstream.last_body(EMBEDDER)["dimensions"] == 32


def test_base64_embeddings_are_little_endian_float32(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    floats = sdk.embeddings.create(model=EMBEDDER, input="red apple", encoding_format="float")
    raw = sdk.embeddings.create(model=EMBEDDER, input="red apple", encoding_format="base64")
    decoded_by_sdk = sdk.embeddings.create(model=EMBEDDER, input="red apple")

    encoded: Any = raw.data[0].embedding
    assert isinstance(encoded, str)
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == floats.data[0].embedding
    assert decoded_by_sdk.data[0].embedding == floats.data[0].embedding
    assert upstream.last_body(EMBEDDER)["encoding_format"] == "base64"


def test_embeddings_follow_error_behaviours_and_auth(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.fail(EMBEDDER, status=429, times=1, retry_after=2)
    wrong_key = openai.OpenAI(base_url=upstream.url, api_key="wrong", max_retries=0)

    with pytest.raises(openai.RateLimitError) as limited:
        sdk.embeddings.create(model=EMBEDDER, input="red apple")
    with wrong_key, pytest.raises(openai.AuthenticationError) as refused:
        wrong_key.embeddings.create(model=EMBEDDER, input="red apple")
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.embeddings.create(model=EMBEDDER, input="")
    recovered = sdk.embeddings.create(model=EMBEDDER, input="red apple")

    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.response.headers["retry-after"] == "2"
    assert refused.value.code == "invalid_api_key"
    assert bad.value.param == "input"
    assert len(recovered.data[0].embedding) == 8


# legacy completions ----------------------------------------------------------------------------


def test_legacy_completion_echoes_the_prompt(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    reply = sdk.completions.create(model=MODEL, prompt="once upon a time")
    limited = sdk.completions.create(model=MODEL, prompt="once upon a time", max_tokens=2)
    stopped = sdk.completions.create(model=MODEL, prompt="once upon a time", stop=["a t"])

    assert reply.id.startswith("cmpl-")
    assert reply.object == "text_completion"
    assert reply.model == MODEL
    [choice] = reply.choices
    assert (choice.text, choice.index, choice.finish_reason) == (
        "echo: once upon a time",
        0,
        "stop",
    )
    assert choice.logprobs is None
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 5)
    assert (limited.choices[0].text, limited.choices[0].finish_reason) == ("echo: once", "length")
    assert (stopped.choices[0].text, stopped.choices[0].finish_reason) == (
        "echo: once upon ",
        "stop",
    )
    assert upstream.last_body(MODEL)["prompt"] == "once upon a time"


def test_streamed_legacy_completion(upstream: UpstreamServer, sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.completions.create(
            model=MODEL,
            prompt="once upon a time there was",
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert {c.object for c in chunks} == {"text_completion"}
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert len([t for t in texts if t]) == 4
    assert "".join(texts) == "echo: once upon a time there was"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes == [None] * (len(finishes) - 1) + ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7


def test_legacy_completion_error_has_openai_shape(
    upstream: UpstreamServer, sdk: openai.OpenAI
) -> None:
    upstream.fail(MODEL, status=503)

    with pytest.raises(openai.InternalServerError) as caught:
        sdk.completions.create(model=MODEL, prompt="once upon a time")

    assert caught.value.status_code == 503
    assert caught.value.type == "server_error"
    assert caught.value.body == {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    }


# steering from another process ----------------------------------------------------------------


def test_remote_tool_call_and_last_body(upstream: UpstreamServer) -> None:
    remote = RemoteUpstream(upstream.url)
    remote.call_tool(MODEL, "get_weather", {"city": "Berlin"})
    headers = {"Authorization": f"Bearer {API_KEY}"}
    body = {"model": MODEL, "messages": QUESTION, "tools": [WEATHER], "seed": 3}

    answer = requests.post(
        f"{upstream.url}/chat/completions", json=body, headers=headers, timeout=5
    )
    bad = requests.post(
        f"{upstream.base_url}/_control",
        json={"model": MODEL, "tool_call": {"arguments": "{}"}},
        timeout=5,
    )

    [choice] = answer.json()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Berlin"}',
    }
    assert remote.last_body(MODEL) == body
    assert bad.status_code == 400
    with pytest.raises(LookupError):
        remote.last_body("nobody")
