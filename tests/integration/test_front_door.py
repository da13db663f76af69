"""The OpenAI-compatible front door, driven by the official openai SDK, against the proxy
served by gunicorn with a real OPA."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.integration.conftest import traffic_policy
from tests.support.keys import ADMIN_KEY, api
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("front-door"), traffic_policy()) as running:
        yield running


@pytest.fixture
def sdk(stack: Stack) -> openai.OpenAI:
    stack.upstream.reset()
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=ADMIN_KEY, max_retries=0)


QA = {"symphony_task": "qa", "symphony_loa": "1"}


def test_models_lists_auto_and_the_policy_models(sdk: openai.OpenAI) -> None:
    ids = [m.id for m in sdk.models.list()]
    assert ids == ["auto", "hosted/alpha", "hosted/beta", "local/gamma"]


def test_auto_lets_the_policy_choose(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi there"}], metadata=QA
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hi there"
    assert completion.model == "hosted/alpha"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert raw.headers["x-symphony-model"] == "hosted/alpha"
    assert raw.headers["x-symphony-rule"] == "qa"
    assert raw.headers["x-symphony-decision-id"]
    assert raw.headers["x-symphony-audit-id"].startswith("run_")


def test_streaming_with_usage(sdk: openai.OpenAI, stack: Stack) -> None:
    stack.upstream.update("alpha", text="streamed words arrive here one by one now", chunks=4)
    stream = sdk.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "go"}],
        metadata=QA,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: list[str] = []
    usage_seen = False
    for chunk in stream:
        if chunk.usage is not None:
            usage_seen = chunk.usage.total_tokens > 0
        for choice in chunk.choices:
            if choice.delta.content:
                texts.append(choice.delta.content)
    assert "".join(texts) == "streamed words arrive here one by one now"
    assert len(texts) == 4
    assert usage_seen


def test_context_from_headers_and_fallback_are_invisible_to_the_client(
    sdk: openai.OpenAI, stack: Stack
) -> None:
    stack.upstream.update("alpha", status=429)
    completion = sdk.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"X-Symphony-Task": "qa", "X-Symphony-Loa": "1"},
    )
    assert completion.model == "hosted/beta"
    stack.upstream.restore("alpha")


def test_a_named_model_must_be_allowed(sdk: openai.OpenAI) -> None:
    ok = sdk.chat.completions.create(
        model="hosted/beta", messages=[{"role": "user", "content": "x"}], metadata=QA
    )
    assert ok.model == "hosted/beta"
    with pytest.raises(openai.PermissionDeniedError) as denied:
        sdk.chat.completions.create(
            model="hosted/alpha",
            messages=[{"role": "user", "content": "x"}],
            metadata={"symphony_task": "private", "symphony_loa": "1"},
        )
    assert denied.value.code == "no_model_available"
    assert "not_in_route" in str(denied.value.body)


def test_bad_requests_are_openai_errors_naming_the_param(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="auto", messages=[], metadata=QA)
    assert bad.value.param == "$.messages"
    with pytest.raises(openai.BadRequestError) as loa:
        sdk.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "x"}],
            metadata={"symphony_task": "qa", "symphony_loa": "seven"},
        )
    assert loa.value.param == "$.metadata.symphony_loa"


def test_a_client_leaving_mid_stream_stops_the_upstream_call(stack: Stack, tmp_path: Path) -> None:
    stack.upstream.update("alpha", text=" ".join(["word"] * 40), chunks=40, chunk_delay_s=0.1)
    with api().post(
        f"{stack.url}/route/execute",
        json={"task": "qa", "loa": 1, "input": "long", "stream": True},
        stream=True,
        timeout=10,
    ) as response:
        audit_id = response.headers["X-Symphony-Audit-Id"]
        first = next(response.iter_lines())
        assert first.startswith(b"event: chunk")
    deadline = time.monotonic() + 10
    report: dict[str, object] = {}
    while time.monotonic() < deadline:
        found = api().get(f"{stack.url}/runs/{audit_id}", timeout=5)
        if found.status_code == 200:
            report = found.json()
            break
        time.sleep(0.2)
    assert report.get("status") == "cancelled"
    attempts = report["attempts"]
    assert isinstance(attempts, list)
    assert attempts[-1]["outcome"] == "client_disconnected"
    stack.upstream.restore("alpha")


def test_a_stream_that_fell_back_names_the_model_that_answered(
    sdk: openai.OpenAI, stack: Stack
) -> None:
    stack.upstream.update("alpha", status=503)
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "x"}], metadata=QA, stream=True
    )
    assert raw.headers["x-symphony-model"] == "hosted/beta"
    chunks = list(raw.parse())
    assert {chunk.model for chunk in chunks} == {"hosted/beta"}
    stack.upstream.restore("alpha")
