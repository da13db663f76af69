"""Redis down: routing fails closed with 503 `counter_store_unavailable` (never 500), the
kill switch and metrics keep answering; an empty Redis gets each model's spend of the day back
from the durable run reports, so budgets are not reset by a Redis restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.keys import signed_in
from tests.support.processes import start_redis
from tests.support.served import with_sidecar

pytestmark = pytest.mark.slow


def test_routing_fails_closed_while_the_counter_store_is_down(
    traffic_settings: Settings, opa_port: int, logs_dir: Path
) -> None:
    redis = start_redis(logs_dir)
    settings = replace(traffic_settings, redis_url=f"redis://127.0.0.1:{redis.port}/0")
    app = create_app({"TESTING": True, "SETTINGS": settings})
    try:
        with with_sidecar(app, opa_port, logs_dir):
            client = signed_in(app)
            assert client.post("/route/plan", json={"task": "qa", "loa": 1}).status_code == 200
            redis.stop()
            refused = client.post("/route/plan", json={"task": "qa", "loa": 1})
            assert refused.status_code == 503
            assert refused.get_json()["error"] == "counter_store_unavailable"
            executed = client.post("/route/execute", json={"task": "qa", "loa": 1, "input": "x"})
            assert executed.status_code == 503
            door = client.post(
                "/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": "x"}]},
            )
            assert door.status_code == 503
            assert door.get_json()["error"]["code"] == "counter_store_unavailable"
            assert client.get("/controls/kill-switch").status_code == 200
            assert client.get("/metrics").status_code == 200
            health = client.get("/status/health.json")
            assert health.status_code == 503
            assert health.get_json()["checks"]["counters"]["status"] == "down"
    finally:
        redis.stop()


def execute(client: FlaskClient) -> float:
    response = client.post("/route/execute", json={"task": "qa", "loa": 1, "input": "a b c d"})
    assert response.status_code == 200, response.get_json()
    cost: float = response.get_json()["cost_usd"]
    return cost


def spent(client: FlaskClient, model: str) -> float:
    rows = client.get("/status/burndown.json").get_json()["models"]
    usd: float = next(r["usd_today"] for r in rows if r["model"] == model)
    return usd


def test_an_empty_redis_gets_the_days_spend_back_from_run_reports(
    traffic_settings: Settings, opa_port: int, logs_dir: Path
) -> None:
    first = start_redis(logs_dir)
    settings = replace(traffic_settings, redis_url=f"redis://127.0.0.1:{first.port}/0")
    app = create_app({"TESTING": True, "SETTINGS": settings})
    try:
        with with_sidecar(app, opa_port, logs_dir):
            client = signed_in(app)
            total = execute(client) + execute(client)
            assert total > 0
            assert spent(client, "hosted/alpha") == pytest.approx(total)
    finally:
        first.stop()
    second = start_redis(logs_dir)  # a Redis that lost everything
    try:
        fresh = replace(settings, redis_url=f"redis://127.0.0.1:{second.port}/0")
        again = signed_in(create_app({"TESTING": True, "SETTINGS": fresh}))
        assert spent(again, "hosted/alpha") == pytest.approx(total)
        assert spent(again, "hosted/beta") == 0.0
    finally:
        second.stop()
