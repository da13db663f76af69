"""Through a real LiteLLM proxy: directly with the OpenAI SDK, then as Symphony's gateway.

LiteLLM runs from its own venv (.tools/litellm-venv, `just litellm`) with a generated config:
one model answers from LiteLLM's `mock_response`, the others are forwarded to the stand-in
upstream, which plays the hosted provider behind LiteLLM.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests
import yaml
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam

from tests.support.keys import ADMIN_KEY, api
from tests.support.litellm import LITELLM, require_litellm, start_litellm
from tests.support.processes import (
    ROOT,
    Service,
    free_port,
    start_opa,
    start_proxy,
)
from tests.support.upstream import UpstreamServer

MASTER_KEY = "sk-symphony-litellm-test"
UPSTREAM_KEY = "sk-provider-behind-litellm"
MOCK_TEXT = "Hello from the LiteLLM mock."
QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "name three primes"}]


def litellm_config(upstream_url: str) -> dict[str, Any]:
    """Model names as Symphony's policy will send them, mapped to the mock or the stand-in."""

    def forwarded(name: str, upstream_model: str) -> dict[str, Any]:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{upstream_model}",
                "api_base": upstream_url,
                "api_key": UPSTREAM_KEY,
                "max_retries": 0,
                "timeout": 10,
            },
        }

    return {
        "model_list": [
            {
                "model_name": "mocked",
                "litellm_params": {
                    "model": "openai/mocked",
                    "api_key": "unused",
                    "mock_response": MOCK_TEXT,
                },
            },
            forwarded("provider-alpha", "alpha"),
            forwarded("provider-flaky", "flaky"),
        ],
        "litellm_settings": {"num_retries": 0, "drop_params": True, "telemetry": False},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
        "general_settings": {"master_key": MASTER_KEY},
    }


def symphony_policy() -> dict[str, Any]:
    """Hosted models whose upstream_model names are LiteLLM model names."""

    def model(name: str, upstream: str, tools: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            **({"tools": list(tools)} if tools else {}),
            "name": name,
            "provider": "litellm",
            "class": "hosted",
            "upstream_model": upstream,
            "context_tokens": 32000,
            "rpm_cap": 1000,
            "tpm_cap": 10_000_000,
            "daily_usd_cap": 100.0,
            "price": {"input_per_1k": 1.0, "output_per_1k": 2.0},
        }

    return {
        "version": "litellm-test",
        "timezone": "Europe/Berlin",
        "cooldown": {"failures": 100, "seconds": 1},
        "models": [
            model("hosted/alpha", "provider-alpha", ("function_calling",)),
            model("hosted/flaky", "provider-flaky"),
            model("hosted/mocked", "mocked"),
        ],
        "rules": [
            {"id": "qa", "match": {"task": "qa"}, "route": {"prefer": ["hosted/alpha"]}},
            {"id": "mock", "match": {"task": "summarize"}, "route": {"prefer": ["hosted/mocked"]}},
            {
                "id": "flaky-then-mock",
                "match": {"task": "code"},
                "route": {"prefer": ["hosted/flaky"], "fallback": ["hosted/mocked"]},
            },
        ],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamServer]:
    """The provider behind LiteLLM; it insists on the provider key, not the master key."""
    with UpstreamServer(api_key=UPSTREAM_KEY, models=("alpha", "flaky")) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream: UpstreamServer) -> None:
    upstream.reset()


@pytest.fixture(scope="module")
def litellm(
    logs_dir: Path, tmp_path_factory: pytest.TempPathFactory, upstream: UpstreamServer
) -> Iterator[Service]:
    """A real LiteLLM proxy on a free port."""
    service = start_litellm(
        litellm_config(upstream.url), MASTER_KEY, tmp_path_factory.mktemp("litellm"), logs_dir
    )
    yield service
    service.stop()


@pytest.fixture
def sdk(litellm: Service) -> Iterator[openai.OpenAI]:
    """The OpenAI SDK pointed at LiteLLM with the master key."""
    client = openai.OpenAI(
        base_url=f"{litellm.url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def symphony(
    logs_dir: Path, tmp_path_factory: pytest.TempPathFactory, litellm: Service
) -> Iterator[Service]:
    """OPA and the Symphony proxy (gunicorn), with LiteLLM as the gateway."""
    workdir = tmp_path_factory.mktemp("symphony")
    policy = workdir / "policy.json"
    policy.write_text(json.dumps(symphony_policy()))
    opa_port = free_port()
    proxy = start_proxy(
        logs_dir,
        {
            "SYMPHONY_OPA_URL": f"http://127.0.0.1:{opa_port}",
            "SYMPHONY_GATEWAY_URL": f"{litellm.url}/v1",
            "SYMPHONY_GATEWAY_KEY": MASTER_KEY,
            "SYMPHONY_POLICY_FILE": str(policy),
            "SYMPHONY_DATA_DIR": str(workdir / "data"),
            "SYMPHONY_BACKGROUND_JOBS": "false",
            "SYMPHONY_LOCAL_MODEL_URL": "",
        },
    )
    try:
        opa = start_opa(logs_dir, proxy.url, port=opa_port)
    except BaseException:
        proxy.stop()
        raise
    yield proxy
    opa.stop()
    proxy.stop()


def sse_events(response: requests.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream body."""
    events: list[tuple[str, dict[str, Any]]] = []
    event = "message"
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            events.append((event, json.loads(line[5:])))
            event = "message"
    return events


# (a) LiteLLM itself -------------------------------------------------------------------------


@pytest.mark.slow
def test_litellm_answers_its_mock_with_the_master_key(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(model="mocked", messages=QUESTION)

    assert reply.choices[0].message.content == MOCK_TEXT
    assert reply.usage is not None
    assert reply.usage.total_tokens > 0


@pytest.mark.slow
def test_litellm_refuses_calls_without_the_master_key(
    litellm: Service, upstream: UpstreamServer
) -> None:
    client = openai.OpenAI(base_url=f"{litellm.url}/v1", api_key="sk-wrong", max_retries=0)
    with client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="provider-alpha", messages=QUESTION)

    # Without a database LiteLLM cannot look the key up as a virtual key: 400 "No connected db".
    assert caught.value.status_code in (400, 401)
    assert upstream.requests == []


@pytest.mark.slow
def test_litellm_forwards_to_the_provider_with_the_provider_key(
    sdk: openai.OpenAI, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", prompt_tokens=11, completion_tokens=7)

    reply = sdk.chat.completions.create(model="provider-alpha", messages=QUESTION)

    assert reply.choices[0].message.content == "echo: name three primes"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 7)
    [seen] = upstream.requests_for("alpha")
    assert seen.bearer
    assert seen.body["messages"] == QUESTION


@pytest.mark.slow
def test_litellm_streams_with_usage(sdk: openai.OpenAI, upstream: UpstreamServer) -> None:
    upstream.ok("alpha", text="two three five")
    upstream.update("alpha", prompt_tokens=11, completion_tokens=3, chunks=3)

    chunks = list(
        sdk.chat.completions.create(
            model="provider-alpha",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "two three five"
    usages = [c.usage for c in chunks if c.usage is not None]
    assert usages
    assert (usages[-1].prompt_tokens, usages[-1].completion_tokens) == (11, 3)


# (b) Symphony with LiteLLM as its gateway ------------------------------------------------------


@pytest.mark.slow
def test_symphony_executes_through_litellm(symphony: Service, upstream: UpstreamServer) -> None:
    upstream.update("alpha", prompt_tokens=11, completion_tokens=7)

    response = api().post(
        f"{symphony.url}/route/execute",
        json={"task": "qa", "loa": 1, "input": "name three primes", "stream": False},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "hosted/alpha"
    assert body["rule"] == "qa"
    assert body["output"]["text"] == "echo: name three primes"
    assert body["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
        "estimated": False,
    }
    assert body["cost_usd"] == pytest.approx(0.011 + 0.014)
    assert [a["outcome"] for a in body["attempts"]] == ["ok"]
    [seen] = upstream.requests_for("alpha")
    assert seen.bearer  # LiteLLM swapped Symphony's master key for the provider key


@pytest.mark.slow
def test_symphony_streams_through_litellm(symphony: Service, upstream: UpstreamServer) -> None:
    upstream.ok("alpha", text="two three five seven")
    upstream.update("alpha", prompt_tokens=11, completion_tokens=4, chunks=4)

    with api().post(
        f"{symphony.url}/route/execute",
        json={"task": "qa", "loa": 1, "input": "name four primes", "stream": True},
        stream=True,
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = sse_events(response)

    chunks = [data["text"] for event, data in events if event == "chunk"]
    assert "".join(chunks) == "two three five seven"
    assert len(chunks) > 1
    kind, summary = events[-1]
    assert kind == "summary"
    assert summary["output"]["text"] == "two three five seven"
    assert summary["usage"]["estimated"] is False
    assert (summary["usage"]["prompt_tokens"], summary["usage"]["completion_tokens"]) == (11, 4)


@pytest.mark.slow
def test_symphony_gets_litellm_mock_response(symphony: Service) -> None:
    response = api().post(
        f"{symphony.url}/route/execute",
        json={"task": "summarize", "loa": 1, "input": "anything", "stream": False},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.json()["model"] == "hosted/mocked"
    assert response.json()["output"]["text"] == MOCK_TEXT


@pytest.mark.slow
def test_provider_429_through_litellm_falls_back(
    symphony: Service, upstream: UpstreamServer
) -> None:
    upstream.fail("flaky", status=429, retry_after=1)

    response = api().post(
        f"{symphony.url}/route/execute",
        json={"task": "code", "loa": 1, "input": "write a loop", "stream": False},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "hosted/mocked"
    assert body["output"]["text"] == MOCK_TEXT
    outcomes = [(a["model"], a["outcome"], a["status"]) for a in body["attempts"]]
    assert outcomes == [("hosted/flaky", "http_429", 429), ("hosted/mocked", "ok", 200)]
    assert upstream.requests_for("flaky")


@pytest.mark.slow
def test_an_sdk_agent_calls_tools_through_symphony_and_litellm(
    symphony: Service, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", tool_call={"name": "lookup", "arguments": '{"q": "primes"}'})
    client = openai.OpenAI(base_url=f"{symphony.url}/v1", api_key=ADMIN_KEY, max_retries=0)
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    answer = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "find primes"}],
        tools=[tool],  # type: ignore[list-item]
        stop=["never-said"],
        seed=7,
        metadata={"symphony_task": "qa"},
    )
    choice = answer.choices[0]
    assert answer.model == "hosted/alpha" and choice.finish_reason == "tool_calls"
    call = (choice.message.tool_calls or [])[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "primes"})
    sent = upstream.last_body("alpha")  # what reached the provider behind LiteLLM
    assert sent["tools"][0]["function"]["name"] == "lookup"
    assert sent["stop"] == ["never-said"] and sent["seed"] == 7


def test_litellm_venv_holds_the_pinned_version() -> None:
    require_litellm()
    script = (ROOT / "scripts" / "setup-litellm.sh").read_text()
    pinned = next(
        line.split(":-", 1)[1].rstrip("}\"'")
        for line in script.splitlines()
        if line.startswith("LITELLM_VERSION=")
    )
    version_file = next((LITELLM.parent.parent / "lib").glob("python3*/site-packages"))
    installed = [p.name for p in version_file.glob("litellm-*.dist-info")]

    assert installed == [f"litellm-{pinned}.dist-info"], (installed, os.fspath(version_file))


def test_operator_config_serves_every_upstream_of_the_example_policy() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "litellm" / "config.yaml").read_text())
    policy = json.loads((ROOT / "policy" / "examples" / "default.json").read_text())
    served = {entry["model_name"]: entry["litellm_params"] for entry in config["model_list"]}

    assert {m["upstream_model"] for m in policy["models"]} <= set(served)
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    for params in served.values():
        assert params.get("max_retries") == 0  # Symphony does the retrying and falling back
        key = params.get("api_key", "")
        assert key.startswith("os.environ/") or key == "none", "no literal keys in the config"
    assert served["smollm2"]["model"] == "openai/smollm2"
