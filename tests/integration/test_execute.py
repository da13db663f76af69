"""POST /route/execute through the real OPA to the stand-in upstream: fallbacks, streams,
cooldowns, run reports."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.keys import signed_in
from tests.support.processes import free_port
from tests.support.served import with_sidecar
from tests.support.upstream import UpstreamServer


def execute(client: FlaskClient, **body: Any) -> tuple[int, dict[str, Any]]:
    response = client.post("/route/execute", json={"task": "qa", "loa": 1, **body})
    payload = response.get_json()
    assert isinstance(payload, dict), response.data[:200]
    return response.status_code, payload


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def outcomes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["model"], a["outcome"]) for a in body["attempts"]]


def test_a_call_is_answered_counted_priced_and_reported(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    status, body = execute(traffic, input="hello, I am ada@example.org")
    assert status == 200
    assert body["model"] == "hosted/alpha"
    assert body["output"]["text"] == "echo: hello, I am ada@example.org"
    usage = body["usage"]
    assert usage["estimated"] is False
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    expected = (usage["prompt_tokens"] * 0.5 + usage["completion_tokens"] * 1.5) / 1000
    assert body["cost_usd"] == pytest.approx(expected)
    assert outcomes(body) == [("hosted/alpha", "ok")]
    sent = upstream.requests_for("alpha")[0]
    assert sent.bearer is True
    assert sent.body["max_tokens"] == 256
    report = traffic.get(f"/runs/{body['audit_id']}").get_json()
    assert report["status"] == "ok"
    # By default a report keeps no prompt or answer text: sizes and hashes only.
    prompt = "hello, I am ada@example.org"
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    assert report["content"] == "none"
    assert report["request"]["messages"] == [
        {"role": "user", "chars": len(prompt), "sha256": digest}
    ]
    assert "text" not in report["output"]
    assert report["output"]["chars"] == len(body["output"]["text"])
    assert "ada@example.org" not in json.dumps(report)
    assert report["client"] == {
        "name": "admin",
        "roles": ["admin", "client", "governor", "operator"],
        "team": None,
    }
    # Wall-clock time, not a monotonic counter (reports were once dated 1970).
    at = datetime.fromisoformat(report["at"])
    assert abs((datetime.now(UTC) - at).total_seconds()) < 60
    assert report["cost_usd"] == pytest.approx(expected)
    assert "sk-test-key" not in json.dumps(report)
    plan = traffic.post("/route/plan", json={"task": "qa", "loa": 1}).get_json()
    assert plan["decision"]["model"] == "hosted/alpha"


def test_the_counters_feed_the_next_decision(
    traffic: FlaskClient, traffic_settings: Settings
) -> None:
    for _ in range(3):
        assert execute(traffic, input="x" * 400)[0] == 200
    metrics = traffic.get("/metrics").data.decode()
    assert 'symphony_model_rpm{model="hosted/alpha"} 3.0' in metrics
    burndown = traffic.get("/status/burndown.json").get_json()
    alpha = next(m for m in burndown["models"] if m["model"] == "hosted/alpha")
    assert alpha["usd_today"] > 0 and alpha["fraction"] > 0
    assert alpha["rate_usd_per_hour"]["m1"] > 0
    assert alpha["runway_seconds"] is not None


def test_the_local_model_gets_the_preamble(traffic: FlaskClient, upstream: UpstreamServer) -> None:
    status, body = execute(traffic, task="private", input="hi")
    assert status == 200 and body["model"] == "local/gamma"
    messages = upstream.requests_for("gamma")[0].body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize(
    ("steer", "outcome"),
    [
        ({"status": 429}, "http_429"),
        ({"status": 500}, "http_5xx"),
        ({"status": 503}, "http_5xx"),
        ({"delay_s": 2.0}, "timeout"),
    ],
)
def test_failures_fall_back_to_the_next_candidate(
    traffic: FlaskClient, upstream: UpstreamServer, steer: dict[str, Any], outcome: str
) -> None:
    upstream.update("alpha", **steer)
    status, body = execute(traffic, input="hi")
    assert status == 200
    assert body["model"] == "hosted/beta"
    assert outcomes(body) == [("hosted/alpha", outcome), ("hosted/beta", "ok")]
    metrics = traffic.get("/metrics").data.decode()
    assert f'symphony_gateway_attempts_total{{model="hosted/alpha",result="{outcome}"}} 1.0' in (
        metrics
    )
    assert 'symphony_route_fallbacks_total{model="hosted/beta"} 1.0' in metrics


def test_a_refused_connection_falls_back(
    traffic_settings: Settings, opa_port: int, logs_dir: Path
) -> None:
    settings = replace(traffic_settings, local_model_url=f"http://127.0.0.1:{free_port()}/v1")
    app = create_app({"TESTING": True, "SETTINGS": settings})
    with with_sidecar(app, opa_port, logs_dir):
        check_refused_connection(signed_in(app))


def check_refused_connection(client: FlaskClient) -> None:
    status, body = execute(client, task="private", input="hi")
    assert status == 502
    assert body["error"] == "all_attempts_failed"
    assert [(a["model"], a["outcome"]) for a in body["attempts"]] == [
        ("local/gamma", "connection_error")
    ]
    report = client.get(f"/runs/{body['audit_id']}").get_json()
    assert report["status"] == "failed"


def test_every_candidate_failing_is_a_502_with_all_attempts(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    for model in ("alpha", "beta", "gamma"):
        upstream.update(model, status=500)
    status, body = execute(traffic, input="hi")
    assert status == 502
    assert outcomes(body) == [
        ("hosted/alpha", "http_5xx"),
        ("hosted/beta", "http_5xx"),
        ("local/gamma", "http_5xx"),
    ]


def test_a_client_error_upstream_is_not_retried(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", status=400)
    status, body = execute(traffic, input="hi")
    assert status == 502 and body["error"] == "upstream_error"
    assert outcomes(body) == [("hosted/alpha", "http_4xx")]


def test_cooldown_and_recovery(traffic: FlaskClient, upstream: UpstreamServer) -> None:
    upstream.update("alpha", status=503)
    assert execute(traffic, task="quiet", input="a")[0] == 502
    assert execute(traffic, task="quiet", input="b")[0] == 502
    plan = traffic.post("/route/plan", json={"task": "quiet", "loa": 1}).get_json()["decision"]
    assert plan["denial"] == "no_model_available" and plan["denial_kind"] == "capacity"
    assert plan["reasons"][0]["reason"] == "cooling_down"
    denied = traffic.post("/route/execute", json={"task": "quiet", "loa": 1, "input": "c"})
    assert denied.status_code == 429
    assert len(upstream.requests_for("alpha")) == 2
    upstream.restore("alpha")
    time.sleep(1.1)
    status, body = execute(traffic, task="quiet", input="d")
    assert status == 200 and body["model"] == "hosted/alpha"


def test_streaming_passes_chunks_and_ends_with_a_summary(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", text="one two three four five six", chunks=3)
    response = traffic.post(
        "/route/execute", json={"task": "qa", "loa": 1, "input": "hi", "stream": True}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = sse_events(response.data)
    chunks = [data["text"] for kind, data in events if kind == "chunk"]
    assert len(chunks) == 3 and "".join(chunks) == "one two three four five six"
    kind, summary = events[-1]
    assert kind == "summary"
    assert summary["output"]["text"] == "one two three four five six"
    assert summary["usage"]["estimated"] is False
    assert upstream.requests_for("alpha")[0].body["stream_options"] == {"include_usage": True}
    report = traffic.get(f"/runs/{summary['audit_id']}").get_json()
    assert report["request"]["stream"] is True and report["status"] == "ok"


def test_a_stream_without_usage_is_estimated_and_marked(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", usage=False, text="abcdefgh")
    response = traffic.post(
        "/route/execute", json={"task": "qa", "loa": 1, "input": "hi", "stream": True}
    )
    summary = sse_events(response.data)[-1][1]
    assert summary["usage"] == {
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "total_tokens": 3,
        "estimated": True,
    }


def test_a_stream_failing_before_its_first_chunk_falls_back(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", cut_after=0)
    response = traffic.post(
        "/route/execute", json={"task": "qa", "loa": 1, "input": "hi", "stream": True}
    )
    summary = sse_events(response.data)[-1][1]
    assert summary["model"] == "hosted/beta"
    assert outcomes(summary) == [("hosted/alpha", "stream_cut"), ("hosted/beta", "ok")]


def test_a_stream_cut_midway_ends_with_an_error_event(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    upstream.update("alpha", cut_after=2, chunks=4, text="a b c d e f g h")
    response = traffic.post(
        "/route/execute", json={"task": "qa", "loa": 1, "input": "hi", "stream": True}
    )
    events = sse_events(response.data)
    assert [kind for kind, _ in events] == ["chunk", "chunk", "error"]
    assert events[-1][1]["error"] == "all_attempts_failed"
    assert upstream.requests_for("beta") == []


def test_a_rule_that_forbids_streaming_answers_json(traffic: FlaskClient) -> None:
    response = traffic.post(
        "/route/execute", json={"task": "nostream", "loa": 1, "input": "hi", "stream": True}
    )
    assert response.mimetype == "application/json"
    assert response.get_json()["model"] == "hosted/beta"


def test_denials_carry_the_decision_and_are_reported(traffic: FlaskClient) -> None:
    response = traffic.post("/route/execute", json={"task": "unknown", "loa": 1, "input": "x"})
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "no_matching_rule"
    assert body["decision"]["allow"] is False
    report = traffic.get(f"/runs/{body['audit_id']}").get_json()
    assert report["status"] == "denied"


def test_run_reports_survive_a_restart(traffic: FlaskClient, traffic_settings: Settings) -> None:
    _, body = execute(traffic, input="keep me")
    again = signed_in(create_app({"TESTING": True, "SETTINGS": traffic_settings}))
    report = again.get(f"/runs/{body['audit_id']}")
    assert report.status_code == 200
    assert report.get_json()["output"]["sha256"] == hashlib.sha256(b"echo: keep me").hexdigest()


def test_run_lookups_validate_the_id(traffic: FlaskClient) -> None:
    bad = traffic.get("/runs/..%2f..%2fetc")
    assert bad.status_code in (400, 404)
    malformed = traffic.get("/runs/not-an-id")
    assert malformed.status_code == 400 and malformed.get_json()["errors"][0]["field"] == "audit_id"
    missing = traffic.get("/runs/run_20260101T000000Z_0123456789ab")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "qa", "loa": 1, "stream": "yes"}, "$.stream"),
        ({"task": "qa", "loa": 1, "input": 5}, "$.input"),
        (
            {"task": "qa", "loa": 1, "messages": [{"role": "robot", "content": "x"}]},
            "$.messages[0].role",
        ),
        ({"task": "qa", "loa": 1, "max_output_tokens": 0}, "$.max_output_tokens"),
        ({"loa": 1}, "$.task"),
    ],
)
def test_bad_execute_bodies_name_the_field(
    traffic: FlaskClient, upstream: UpstreamServer, body: dict[str, Any], field: str
) -> None:
    response = traffic.post("/route/execute", json=body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == field
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("content", "prompt_text", "answer_text"),
    [
        ("redacted", "hello, I am [REDACTED_EMAIL]", "echo: hello, I am [REDACTED_EMAIL]"),
        ("full", "hello, I am ada@example.org", "echo: hello, I am ada@example.org"),
    ],
)
def test_reports_keep_text_only_when_configured(
    traffic_settings: Settings,
    opa_port: int,
    logs_dir: Path,
    content: str,
    prompt_text: str,
    answer_text: str,
) -> None:
    app = create_app(
        {"TESTING": True, "SETTINGS": replace(traffic_settings, store_content=content)}
    )
    with with_sidecar(app, opa_port, logs_dir):
        client = signed_in(app)
        status, body = execute(client, input="hello, I am ada@example.org")
        assert status == 200
        report = client.get(f"/runs/{body['audit_id']}").get_json()
    assert report["content"] == content
    assert report["request"]["messages"][0]["text"] == prompt_text
    assert report["output"]["text"] == answer_text


def test_a_model_at_its_concurrency_cap_is_skipped_and_never_queued(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    current = traffic.get("/policy").get_json()
    document = current["document"]
    for model in document["models"]:
        if model["name"] == "hosted/alpha":
            model["max_concurrent"] = 1
    saved = traffic.put("/policy", json=document, headers={"If-Match": current["etag"]})
    assert saved.status_code == 200, saved.get_json()
    inflight = traffic.application.extensions["symphony"].inflight
    # A call to alpha is in flight (a hung upstream, say): it holds alpha's one slot.
    assert inflight.try_acquire("hosted/alpha", 1)
    try:
        status, body = execute(traffic, input="x")
        assert (status, body["model"]) == (200, "hosted/beta")
        assert outcomes(body)[0] == ("hosted/alpha", "concurrency_exhausted")
        assert body["attempts"][0]["detail"] == "1 calls in flight"
        refused = traffic.post("/route/execute", json={"task": "quiet", "loa": 1, "input": "x"})
        assert refused.status_code == 429  # alpha only, at its cap: refused, not queued
        assert refused.get_json()["error"] == "concurrency_exhausted"
        assert inflight.count("hosted/alpha") == 1 and inflight.count("hosted/beta") == 0
    finally:
        inflight.release("hosted/alpha")
    # The slot came back: alpha serves again, and every call gave its slot back.
    assert execute(traffic, input="again")[1]["model"] == "hosted/alpha"
    assert inflight.count("hosted/alpha") == 0


def test_runs_are_refused_while_the_store_does_not_take_their_reports(
    traffic: FlaskClient, traffic_app: Flask, traffic_settings: Settings
) -> None:
    status, body = execute(traffic, input="hi")
    assert status == 200, body
    reports = traffic_app.extensions["symphony"].reports
    reports.STALL_S = 0.2
    lock = sqlite3.connect(traffic_settings.data_dir / "symphony.db", isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # no other writer until it ends (readers go on)
        status, answered = execute(traffic, input="hi")
        assert status == 200  # its report waits in memory, and is readable on this proxy
        assert traffic.get(f"/runs/{answered['audit_id']}").get_json()["status"] == "ok"
        time.sleep(0.4)
        refused = traffic.post("/route/execute", json={"task": "qa", "loa": 1, "input": "hi"})
        assert refused.status_code == 503
        assert refused.get_json()["error"] == "run_store_unavailable"
        chat = traffic.post(
            "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 503
        assert chat.get_json()["error"]["code"] == "run_store_unavailable"
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert reports.flush(timeout_s=30)
    status, _ = execute(traffic, input="hi")
    assert status == 200
