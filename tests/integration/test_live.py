"""The websocket, health and burndown against a running proxy (gunicorn, real OPA)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import simple_websocket

from tests.integration.conftest import traffic_policy
from tests.support.keys import api, bearer
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("live"), traffic_policy()) as running:
        yield running


def connect(stack: Stack) -> simple_websocket.Client:
    return simple_websocket.Client.connect(
        stack.url.replace("http://", "ws://") + "/events", headers=bearer()
    )


def receive_until(
    ws: simple_websocket.Client, kind: str, timeout_s: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if raw is None:
            continue
        message: dict[str, Any] = json.loads(raw)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message within {timeout_s}s")


def test_hello_then_model_stats_from_the_real_counters(stack: Stack) -> None:
    ws = connect(stack)
    try:
        hello = json.loads(ws.receive(timeout=5))
        assert hello["type"] == "hello" and hello["kill_switch"] is False
        api().post(
            f"{stack.url}/route/execute", json={"task": "qa", "loa": 1, "input": "hi"}, timeout=10
        ).raise_for_status()
        deadline = time.monotonic() + 10
        alpha: dict[str, Any] = {}
        while time.monotonic() < deadline:
            stats = receive_until(ws, "model_stats")
            alpha = next(row for row in stats["models"] if row["id"] == "hosted/alpha")
            if alpha["rpm"] >= 1:
                break
        assert alpha["rpm"] >= 1 and alpha["rpmCap"] == 1000
        assert alpha["window"] == "open" and alpha["class"] == "hosted"
        assert alpha["p95ms"] is not None and alpha["ttfbms"] is not None
        assert [row["id"] for row in stats["models"]] == [
            "hosted/alpha",
            "hosted/beta",
            "local/gamma",
        ]
    finally:
        ws.close()


def test_decisions_and_alerts_reach_every_client_and_a_stuck_client_blocks_nobody(
    stack: Stack,
) -> None:
    stuck = connect(stack)  # never reads
    clients = [connect(stack) for _ in range(3)]
    try:
        stack.upstream.update("alpha", status=429, times=1)
        started = time.monotonic()
        for i in range(30):
            api().post(
                f"{stack.url}/route/plan",
                json={"task": "qa", "loa": 1, "input": f"secret {i} ada@example.org"},
                timeout=10,
            ).raise_for_status()
        api().post(
            f"{stack.url}/route/execute", json={"task": "qa", "loa": 1, "input": "x"}, timeout=10
        ).raise_for_status()
        assert time.monotonic() - started < 10
        for ws in clients:
            decision = receive_until(ws, "decision")
            assert decision["source"] == "plan" and decision["task"] == "qa"
            assert "ada@example.org" not in json.dumps(decision)
            alert = receive_until(ws, "alert")
            assert alert["name"] == "ProviderThrottling" and alert["model"] == "hosted/alpha"
    finally:
        for ws in [stuck, *clients]:
            ws.close()


def test_kill_switch_changes_are_broadcast(stack: Stack) -> None:
    ws = connect(stack)
    try:
        api().put(
            f"{stack.url}/controls/kill-switch", json={"on": True, "reason": "test"}, timeout=5
        ).raise_for_status()
        message = receive_until(ws, "kill_switch")
        assert message["kill_switch"] is True
    finally:
        api().put(
            f"{stack.url}/controls/kill-switch", json={"on": False, "reason": "test"}, timeout=5
        )
        ws.close()


def test_health_probes_real_dependencies(stack: Stack) -> None:
    response = api().get(f"{stack.url}/status/health.json", timeout=10)
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["opa"]["status"] == "ok"
    assert body["checks"]["gateway"]["status"] == "ok"
    assert body["checks"]["counters"]["status"] == "ok"
    assert body["checks"]["local_model"]["status"] == "off"
    assert body["counters"] == {"store": "memory", "persistent": False}
    assert body["integrations"]["github"] is False and body["integrations"]["jira"] is False
    assert body["status"] == "ok"


def test_health_is_503_and_routing_fails_closed_when_opa_stops(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with running_stack(tmp_path_factory.mktemp("down"), traffic_policy()) as stack:
        stack.opa.stop()
        response = api().get(f"{stack.url}/status/health.json", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        assert response.json()["checks"]["opa"]["status"] == "down"
        plan = api().post(f"{stack.url}/route/plan", json={"task": "qa", "loa": 1}, timeout=10)
        assert plan.status_code == 503
        metrics = api().get(f"{stack.url}/metrics", timeout=10).text
        assert "symphony_policy_engine_up 0.0" in metrics
