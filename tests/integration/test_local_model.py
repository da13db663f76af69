"""The real local model server (llama.cpp + SmolLM2-135M) answers through the OpenAI SDK."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support.local_model import MODEL_ALIAS, start_local_model
from tests.support.processes import Service

pytestmark = pytest.mark.slow

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
def local_model(logs_dir: Path) -> Iterator[Service]:
    """One llama.cpp server for the module."""
    service = start_local_model(logs_dir)
    yield service
    service.stop()


@pytest.fixture
def sdk(local_model: Service) -> Iterator[openai.OpenAI]:
    """The official client pointed at the local server."""
    client = openai.OpenAI(
        base_url=f"{local_model.url}/v1", api_key="unused", max_retries=0, timeout=60
    )
    yield client
    client.close()


def test_lists_the_model_alias(sdk: openai.OpenAI) -> None:
    assert [m.id for m in sdk.models.list()] == [MODEL_ALIAS]


def test_non_streaming_answer_is_generated_with_usage(sdk: openai.OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model=MODEL_ALIAS, messages=QUESTION, max_tokens=48, temperature=0
    )

    text = reply.choices[0].message.content or ""
    assert "Paris" in text
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 10
    assert 0 < reply.usage.completion_tokens <= 48
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_answer_arrives_in_chunks(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL_ALIAS, messages=QUESTION, max_tokens=48, temperature=0, stream=True
    )
    pieces: list[str] = []
    finishes: list[str] = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finishes.append(choice.finish_reason)

    assert len(pieces) > 3
    assert "Paris" in "".join(pieces)
    assert finishes in (["stop"], ["length"])


def test_concurrent_streams_queue_instead_of_cutting_each_other(sdk: openai.OpenAI) -> None:
    def finish_reason(_: int) -> str | None:
        last: str | None = None
        stream = sdk.chat.completions.create(
            model=MODEL_ALIAS, messages=QUESTION, max_tokens=16, temperature=0, stream=True
        )
        for chunk in stream:
            for choice in chunk.choices:
                last = choice.finish_reason or last
        return last

    with ThreadPoolExecutor(max_workers=3) as pool:
        finishes = list(pool.map(finish_reason, range(3)))

    assert all(f in ("stop", "length") for f in finishes), finishes
