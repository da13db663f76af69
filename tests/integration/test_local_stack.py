"""The embedded stack: the example policy, hosted providers unreachable, the real SmolLM2
served by llama.cpp. The router falls back to the local model, visibly, without an error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.keys import ADMIN_KEY, api
from tests.support.local_model import start_local_model
from tests.support.processes import ROOT, Service, free_port, start_opa, start_proxy


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    work = tmp_path_factory.mktemp("local-stack")
    logs = work / "logs"
    opa_port = free_port()
    model = start_local_model(logs)
    env = {
        "SYMPHONY_OPA_URL": f"http://127.0.0.1:{opa_port}",
        "SYMPHONY_DATA_DIR": str(work / "data"),
        "SYMPHONY_POLICY_FILE": str(ROOT / "policy" / "examples" / "default.json"),
        # Nothing listens here: hosted providers cannot be reached from this machine.
        "SYMPHONY_GATEWAY_URL": f"http://127.0.0.1:{free_port()}/v1",
        "SYMPHONY_LOCAL_MODEL_URL": f"{model.url}/v1",
        "SYMPHONY_BACKGROUND_JOBS": "false",
    }
    service = start_proxy(logs, env)
    opa = start_opa(logs, service.url, port=opa_port)
    try:
        yield service
    finally:
        opa.stop()
        service.stop()
        model.stop()


def test_qa_falls_back_to_the_real_local_model(proxy: Service) -> None:
    response = api().post(
        f"{proxy.url}/route/execute",
        json={"task": "qa", "loa": 1, "input": "Name one colour.", "max_output_tokens": 24},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "local/smollm2"
    assert body["output"]["text"].strip()
    assert [(a["model"], a["outcome"]) for a in body["attempts"]] == [
        ("hosted/gemini-1.5-pro", "connection_error"),
        ("local/smollm2", "ok"),
    ]
    assert body["usage"]["estimated"] is False and body["usage"]["completion_tokens"] > 0
    assert body["cost_usd"] == 0.0


def test_streaming_from_the_real_local_model(proxy: Service, tmp_path: Path) -> None:
    response = api().post(
        f"{proxy.url}/route/execute",
        json={
            "task": "summarize",
            "loa": 1,
            "input": "Summarise: the sky is blue and the grass is green.",
            "stream": True,
            "max_output_tokens": 32,
        },
        stream=True,
        timeout=120,
    )
    assert response.status_code == 200
    events = []
    for block in response.text.split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.splitlines())
            events.append((lines["event"], json.loads(lines["data"])))
    chunks = [data["text"] for kind, data in events if kind == "chunk"]
    kind, summary = events[-1]
    assert kind == "summary" and summary["model"] == "local/smollm2"
    assert len(chunks) > 1 and "".join(chunks) == summary["output"]["text"]


def test_the_openai_front_door_reaches_the_local_model(proxy: Service) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=ADMIN_KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="local/smollm2",
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=16,
        metadata={"symphony_task": "summarize", "symphony_loa": "1"},
    )
    assert completion.model == "local/smollm2"
    assert completion.choices[0].message.content


def _local(proxy: Service) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=ADMIN_KEY, max_retries=0, timeout=60)


SUMMARIZE = {"symphony_task": "summarize", "symphony_loa": "1"}
COUNT = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]


def test_stop_words_length_and_json_reach_the_real_model(proxy: Service) -> None:
    """What llama.cpp does with the client's fields is what the client gets, through Symphony."""
    client = _local(proxy)
    full = client.chat.completions.create(
        model="local/smollm2", messages=COUNT, max_tokens=60, temperature=0, metadata=SUMMARIZE
    )
    text = full.choices[0].message.content or ""
    words = text.split()
    assert len(words) >= 2, text
    stop = words[1]  # greedy decoding repeats itself: the answer up to here is known
    stopped = client.chat.completions.create(
        model="local/smollm2",
        messages=COUNT,
        max_tokens=60,
        temperature=0,
        stop=[stop],
        metadata=SUMMARIZE,
    )
    cut = stopped.choices[0].message.content or ""
    assert stopped.choices[0].finish_reason == "stop"
    assert cut == text[: text.index(stop)], (cut, text)
    short = client.chat.completions.create(
        model="local/smollm2", messages=COUNT, max_tokens=3, temperature=0, metadata=SUMMARIZE
    )
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 3
    streamed = client.chat.completions.create(
        model="local/smollm2",
        messages=COUNT,
        max_tokens=3,
        temperature=0,
        metadata=SUMMARIZE,
        stream=True,
    )
    finishes = [c.choices[0].finish_reason for c in streamed if c.choices]
    assert finishes[-1] == "length"
    structured = client.chat.completions.create(
        model="local/smollm2",
        messages=[{"role": "user", "content": "Give a JSON object with a key named city."}],
        max_tokens=40,
        temperature=0,
        response_format={"type": "json_object"},
        metadata=SUMMARIZE,
    )
    content = structured.choices[0].message.content or ""
    assert isinstance(json.loads(content), dict), content
