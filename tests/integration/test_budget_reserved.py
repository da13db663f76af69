"""A model's reserved budget through the proxy and the real OPA: once less than its
reserve_fraction of the day's cap is left, only essential rules may use it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.core.counters import budget_day
from tests.integration.conftest import traffic_policy
from tests.support.upstream import UpstreamServer

ALPHA = "hosted/alpha"
RESERVED = "reserved for essential rules: $0.50 of $10.00 left today (below 10%)"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """The traffic policy with alpha keeping its last 10% for the essential rule `vital`."""
    policy = traffic_policy()
    policy["models"][0]["reserve_fraction"] = 0.1
    policy["rules"].append(
        {
            "id": "vital",
            "essential": True,
            "match": {"task": "vital"},
            "route": {"prefer": [ALPHA], "fallback": ["hosted/beta"]},
        }
    )
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return path


def spend(app: Flask, model: str, usd: float) -> None:
    """Count `usd` spent on `model` today in the app's own counter store."""
    now = time.time()
    counters = app.extensions["symphony"].counters
    counters.record_usage(model, 1000, usd, now, budget_day(now, "Europe/Berlin"))


def plan(client: FlaskClient, task: str) -> dict[str, Any]:
    response = client.post("/route/plan", json={"task": task, "loa": 1})
    assert response.status_code == 200, response.get_json()
    decision: dict[str, Any] = response.get_json()["decision"]
    return decision


def alpha_reasons(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["reason"], r["detail"]) for r in decision["reasons"] if r["model"] == ALPHA]


def test_reserved_budget_goes_to_essential_rules_only(
    traffic_app: Flask, traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    # Above the reserve every rule may use alpha.
    spend(traffic_app, ALPHA, 9.0)
    assert plan(traffic, "qa")["model"] == ALPHA
    # $0.50 of $10.00 left: below 10%, so the ordinary rule falls back to beta...
    spend(traffic_app, ALPHA, 0.5)
    ordinary = plan(traffic, "qa")
    assert (ordinary["allow"], ordinary["model"]) == (True, "hosted/beta")
    assert alpha_reasons(ordinary) == [("budget_reserved", RESERVED)]
    # ...while the essential rule is still served by alpha, through the upstream.
    vital = plan(traffic, "vital")
    assert (vital["allow"], vital["model"], vital["rule"]) == (True, ALPHA, "vital")
    assert alpha_reasons(vital) == [("chosen", "first eligible candidate of rule vital")]
    executed = traffic.post("/route/execute", json={"task": "vital", "loa": 1, "input": "hi"})
    assert executed.status_code == 200, executed.get_json()
    assert executed.get_json()["model"] == ALPHA
    assert len(upstream.requests_for("alpha")) == 1


def test_a_rule_held_back_only_by_the_reserve_is_a_capacity_denial(
    traffic_app: Flask, traffic: FlaskClient
) -> None:
    spend(traffic_app, ALPHA, 9.6)
    # Rule `quiet` routes to alpha alone: the reserve is capacity (it frees up tomorrow).
    decision = plan(traffic, "quiet")
    assert (decision["allow"], decision["denial"], decision["denial_kind"]) == (
        False,
        "no_model_available",
        "capacity",
    )
    assert alpha_reasons(decision) == [
        ("budget_reserved", "reserved for essential rules: $0.40 of $10.00 left today (below 10%)")
    ]
