"""A first run as the run command starts it: the example policy, no gateway listening, a
local model server. The proxy probes every model's upstream before it serves, so the very
first request goes straight to the local model, and a gateway that comes up later is used
again within one health period."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.policy_view import PolicyView
from app.core.ports import Probe
from app.monitor import DEFAULT_GATEWAY_URL, gateway_verdict, model_upstreams
from tests.support.keys import api
from tests.support.processes import ROOT, Service, free_port, start_proxy_with_sidecar
from tests.support.upstream import UpstreamServer

DEFAULT_POLICY = ROOT / "policy" / "examples" / "default.json"
HOSTED = ("hosted/gemini-1.5-pro", "hosted/grok-code")
HEALTH_INTERVAL_S = 0.5
QA = {"task": "qa", "loa": 1, "input": "Say hello.", "max_output_tokens": 16}


@dataclass
class FirstRun:
    """A proxy and its sidecar on the example policy; the gateway's port is closed."""

    proxy: Service
    local: UpstreamServer
    gateway_port: int

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return self.proxy.url


@contextmanager
def first_run(workdir: Path) -> Iterator[FirstRun]:
    """Start the stack as `run` does, with a stand-in local model server and no gateway."""
    local = UpstreamServer(models=("smollm2",)).start()
    gateway_port = free_port()
    env = {
        "SYMPHONY_DATA_DIR": str(workdir / "data"),
        "SYMPHONY_POLICY_FILE": str(DEFAULT_POLICY),
        "SYMPHONY_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}/v1",
        "SYMPHONY_LOCAL_MODEL_URL": local.url,
        "SYMPHONY_HEALTH_INTERVAL_S": str(HEALTH_INTERVAL_S),
    }
    try:
        proxy, opa = start_proxy_with_sidecar(workdir / "logs", env)
        try:
            yield FirstRun(proxy, local, gateway_port)
        finally:
            opa.stop()
            proxy.stop()
    finally:
        local.stop()


def health(stack: FirstRun) -> dict[str, Any]:
    response = api().get(f"{stack.url}/status/health.json", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_first_request_is_served_by_the_local_model_without_a_failed_attempt(
    tmp_path: Path,
) -> None:
    with first_run(tmp_path) as stack:
        response = api().post(f"{stack.url}/route/execute", json=QA, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == "local/smollm2" and body["rule"] == "qa-default"
        assert [(a["model"], a["outcome"]) for a in body["attempts"]] == [("local/smollm2", "ok")]
        skipped = {r["model"]: r["reason"] for r in body["explain"]["reasons"]}
        assert skipped["hosted/gemini-1.5-pro"] == "unhealthy"
        assert stack.local.requests_for("smollm2")

        state = health(stack)
        assert state["status"] == "ok"
        assert state["checks"]["gateway"]["status"] == "down"
        assert state["checks"]["local_model"]["status"] == "ok"
        models = {row["model"]: row for row in state["models"]}
        assert models["local/smollm2"] == {
            "model": "local/smollm2",
            "upstream": "local_model",
            "healthy": True,
            "reason": None,
        }
        for name in HOSTED:
            assert models[name] == {
                "model": name,
                "upstream": "gateway",
                "healthy": False,
                "reason": "unreachable",
            }
        # An explicitly set gateway that is down is unreachable, not unconfigured.
        assert state["unconfigured"] == []


def test_a_gateway_that_comes_up_is_used_within_one_health_period(tmp_path: Path) -> None:
    with first_run(tmp_path) as stack:
        plan = api().post(f"{stack.url}/route/plan", json=QA, timeout=10).json()
        assert plan["decision"]["model"] == "local/smollm2"
        gateway = UpstreamServer(port=stack.gateway_port).start()
        try:
            started = time.monotonic()
            chosen = None
            # Plans do not probe: only the periodic health job can bring the model back.
            while time.monotonic() - started < HEALTH_INTERVAL_S + 5:
                decision = api().post(f"{stack.url}/route/plan", json=QA, timeout=10).json()
                chosen = decision["decision"]["model"]
                if chosen == "hosted/gemini-1.5-pro":
                    break
                time.sleep(0.1)
            assert chosen == "hosted/gemini-1.5-pro"
            response = api().post(f"{stack.url}/route/execute", json=QA, timeout=30)
            assert response.status_code == 200, response.text
            assert [(a["model"], a["outcome"]) for a in response.json()["attempts"]] == [
                ("hosted/gemini-1.5-pro", "ok")
            ]
            models = {row["model"]: row for row in health(stack)["models"]}
            assert all(models[name]["healthy"] for name in HOSTED)

            # And down again: the next probe takes the hosted models out once more.
            gateway.stop()
            started = time.monotonic()
            while time.monotonic() - started < HEALTH_INTERVAL_S + 5:
                decision = api().post(f"{stack.url}/route/plan", json=QA, timeout=10).json()
                chosen = decision["decision"]["model"]
                if chosen == "local/smollm2":
                    break
                time.sleep(0.1)
            assert chosen == "local/smollm2"
        finally:
            gateway.stop()


def probe(name: str, ok: bool, configured: bool = True) -> Probe:
    return Probe(name, ok, 1.0, "" if ok else "ConnectionError", configured=configured)


def example_models() -> PolicyView:
    return PolicyView.of(json.loads(DEFAULT_POLICY.read_text()), 1)


def test_an_absent_default_gateway_is_unconfigured_and_a_set_one_unreachable() -> None:
    down = probe("gateway", False)
    assert gateway_verdict(down, DEFAULT_GATEWAY_URL).configured is False
    assert gateway_verdict(down, "http://gateway.internal:4000/v1").configured is True
    assert gateway_verdict(probe("gateway", True), DEFAULT_GATEWAY_URL).ok

    models = example_models().models
    probes = {
        "gateway": gateway_verdict(down, DEFAULT_GATEWAY_URL),
        "local_model": probe("local_model", True),
    }
    rows = {row.model: row for row in model_upstreams(models, "http://127.0.0.1:11434/v1", probes)}
    assert {name: rows[name].reason for name in rows} == {
        "hosted/gemini-1.5-pro": "unconfigured",
        "hosted/grok-code": "unconfigured",
        "local/smollm2": None,
    }
    # Without a local model server, local models are called (and judged) through the gateway.
    probes["local_model"] = probe("local_model", False, configured=False)
    rows = {row.model: row for row in model_upstreams(models, None, probes)}
    assert rows["local/smollm2"].upstream == "gateway"
    assert rows["local/smollm2"].reason == "unconfigured"
