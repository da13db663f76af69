"""The OpenAI surface agents use, through Symphony with the official SDK: tools (non-streamed
and streamed round trips), every standard field forwarded unchanged, stop words, `length`,
JSON response formats, usage (real and estimated), embeddings, legacy completions, and each
error in OpenAI's shape with OpenAI's status codes. Proxy under gunicorn, real OPA, stand-in
upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from tests.support.keys import ADMIN_KEY, api
from tests.support.stack import Stack, running_stack

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CALL = {"name": "get_weather", "arguments": '{"city": "Berlin"}'}


def model(name: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "standin",
        "class": "hosted",
        "upstream_model": upstream,
        "context_tokens": 32000,
        "rpm_cap": 1000,
        "tpm_cap": 10_000_000,
        "price": {"input_per_1k": 0.5, "output_per_1k": 1.5},
        **extra,
    }


def surface_policy() -> dict[str, Any]:
    return {
        "version": "surface",
        "timezone": "UTC",
        "models": [
            model("hosted/plain", "beta"),
            model("hosted/agent", "alpha", tools=["function_calling", "vision"]),
            model("hosted/embedder", "embedder", tools=["embeddings"]),
        ],
        "rules": [
            {"id": "embed", "match": {"task": "embed"}, "route": {"prefer": ["hosted/embedder"]}},
            {
                "id": "chat",
                "match": {"task": "chat"},
                "route": {"prefer": ["hosted/plain", "hosted/agent"]},
            },
        ],
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("surface"), surface_policy()) as running:
        running.upstream.models.append("embedder")
        yield running


@pytest.fixture
def sdk(stack: Stack) -> openai.OpenAI:
    stack.upstream.reset()
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=ADMIN_KEY, max_retries=0)


def ask(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def test_a_tool_call_round_trip(sdk: openai.OpenAI, stack: Stack) -> None:
    stack.upstream.update("alpha", tool_call=CALL)
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto",
        messages=ask("weather in Berlin?"),
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        parallel_tool_calls=False,
    )
    first = raw.parse()
    # `tools` made function_calling a requirement: the plain model was skipped for it.
    assert first.model == "hosted/agent" and raw.headers["x-symphony-rule"] == "chat"
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = (choice.message.tool_calls or [])[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Berlin"},
    )
    sent = stack.upstream.last_body("alpha")
    assert sent["tools"] == [WEATHER_TOOL]
    assert (sent["tool_choice"], sent["parallel_tool_calls"]) == ("auto", False)
    # The tool's result goes back with the assistant's tool call, as agents send it.
    second = sdk.chat.completions.create(
        model="auto",
        messages=[
            *ask("weather in Berlin?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": call.function.arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert second.choices[0].message.content == "echo: sunny, 21 C"
    forwarded = stack.upstream.last_body("alpha")["messages"]
    assert forwarded[-2]["tool_calls"][0]["id"] == call.id
    assert forwarded[-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}


def test_a_streamed_tool_call_arrives_in_deltas(sdk: openai.OpenAI, stack: Stack) -> None:
    stack.upstream.update("alpha", tool_call=CALL)
    stream = sdk.chat.completions.create(
        model="auto",
        messages=ask("weather?"),
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    name, arguments, finish, usage, models = "", "", None, None, set()
    for chunk in stream:
        models.add(chunk.model)
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                name += delta.function.name or "" if delta.function else ""
                arguments += delta.function.arguments or "" if delta.function else ""
    assert (name, json.loads(arguments), finish) == (
        "get_weather",
        {"city": "Berlin"},
        "tool_calls",
    )
    assert models == {"hosted/agent"}
    assert usage is not None and usage.total_tokens > 0


def test_every_standard_and_unknown_field_is_forwarded_unchanged(
    sdk: openai.OpenAI, stack: Stack
) -> None:
    fields: dict[str, Any] = {
        "top_p": 0.5,
        "seed": 42,
        "presence_penalty": 0.25,
        "frequency_penalty": -0.5,
        "logit_bias": {"50256": -100},
        "logprobs": True,
        "top_logprobs": 2,
        "user": "agent-7",
        "n": 1,
        "max_completion_tokens": 64,
    }
    sdk.chat.completions.create(
        model="auto",
        messages=ask("hello"),
        temperature=0.3,
        metadata={"symphony_task": "chat", "team_ref": "abc"},
        extra_body={"future_option": {"x": 1}},
        **fields,
    )
    sent = stack.upstream.last_body("beta")
    for key, value in fields.items():
        assert sent[key] == value, key
    assert sent["future_option"] == {"x": 1} and sent["temperature"] == 0.3
    assert sent["model"] == "beta" and "max_tokens" not in sent
    assert sent["metadata"] == {"team_ref": "abc"}  # Symphony's own keys stay here


def test_stop_words_and_length_reach_the_client(sdk: openai.OpenAI, stack: Stack) -> None:
    stack.upstream.update("beta", text="one two STOP three four")
    stopped = sdk.chat.completions.create(model="auto", messages=ask("x"), stop=["STOP"])
    assert stopped.choices[0].message.content == "one two "
    assert stopped.choices[0].finish_reason == "stop"
    assert stack.upstream.last_body("beta")["stop"] == ["STOP"]
    short = sdk.chat.completions.create(model="auto", messages=ask("x"), max_tokens=2)
    assert short.choices[0].finish_reason == "length"
    streamed = sdk.chat.completions.create(
        model="auto", messages=ask("x"), max_tokens=2, stream=True
    )
    finishes = [c.choices[0].finish_reason for c in streamed if c.choices]
    assert finishes[-1] == "length" and finishes.count("length") == 1


def test_a_json_response_format_answers_json(sdk: openai.OpenAI, stack: Stack) -> None:
    answer = sdk.chat.completions.create(
        model="auto", messages=ask("give json"), response_format={"type": "json_object"}
    )
    assert json.loads(answer.choices[0].message.content or "") == {"echo": "give json"}
    assert stack.upstream.last_body("beta")["response_format"] == {"type": "json_object"}


def test_usage_is_the_upstreams_and_estimated_only_when_missing(
    sdk: openai.OpenAI, stack: Stack
) -> None:
    raw = sdk.chat.completions.with_raw_response.create(model="auto", messages=ask("count me"))
    body = json.loads(raw.text)
    assert body["symphony"]["usage_estimated"] is False
    real = raw.parse().usage
    assert real is not None and real.prompt_tokens > 0
    stack.upstream.no_usage("beta")
    guessed = json.loads(
        sdk.chat.completions.with_raw_response.create(model="auto", messages=ask("guess")).text
    )
    assert guessed["symphony"]["usage_estimated"] is True
    assert guessed["usage"]["completion_tokens"] > 0
    report = api().get(f"{stack.url}/runs/{guessed['symphony']['audit_id']}", timeout=10).json()
    assert report["usage"]["estimated"] is True
    stream = sdk.chat.completions.create(
        model="auto",
        messages=ask("guess"),
        stream=True,
        stream_options={"include_usage": True},
    )
    last = list(stream)[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens > 0
    assert (last.model_extra or {})["symphony"]["usage_estimated"] is True


def test_embeddings_are_routed_by_policy(sdk: openai.OpenAI, stack: Stack) -> None:
    raw = sdk.embeddings.with_raw_response.create(model="auto", input=["a", "b"], dimensions=4)
    result = raw.parse()
    assert result.model == "hosted/embedder" and raw.headers["x-symphony-rule"] == "embed"
    assert [len(d.embedding) for d in result.data] == [4, 4]
    assert result.usage.prompt_tokens > 0
    sent = stack.upstream.last_body("embedder")
    assert sent["input"] == ["a", "b"] and sent["dimensions"] == 4
    assert "stream" not in sent and "messages" not in sent
    encoded = sdk.embeddings.create(model="auto", input="x", encoding_format="base64")
    assert len(encoded.data) == 1


def test_legacy_completions_pass_through(sdk: openai.OpenAI, stack: Stack) -> None:
    done = sdk.completions.create(
        model="auto", prompt="hello", max_tokens=16, extra_body={"metadata": {}}
    )
    assert done.model == "hosted/plain" and done.choices[0].text == "echo: hello"
    assert stack.upstream.last_body("beta")["prompt"] == "hello"
    streamed = sdk.completions.create(model="auto", prompt="hello", stream=True)
    text = "".join(c.choices[0].text for c in streamed if c.choices)
    assert text == "echo: hello"


def test_errors_are_openais(sdk: openai.OpenAI, stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk.chat.completions.create(model="gpt-9", messages=ask("x"))
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="auto", messages=ask("x"), temperature=5)
    assert bad.value.code == "invalid_request" and bad.value.param == "$.temperature"
    assert (bad.value.body or {})["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(openai.PermissionDeniedError) as denied:
        sdk.chat.completions.create(
            model="auto", messages=ask("x"), metadata={"symphony_task": "nothing-matches"}
        )
    assert denied.value.code == "no_matching_rule"
    stack.upstream.fail("beta", 500)
    stack.upstream.fail("alpha", 500)
    with pytest.raises(openai.APIStatusError) as failed:
        sdk.chat.completions.create(model="auto", messages=ask("x"))
    assert failed.value.status_code == 502 and failed.value.code == "all_attempts_failed"
    stranger = openai.OpenAI(
        base_url=f"{stack.url}/v1", api_key="sym_wrong" + "x" * 40, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as anonymous:
        stranger.models.list()
    assert anonymous.value.code == "unauthenticated"
    missing = api().post(f"{stack.url}/v1/assistants", json={}, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
