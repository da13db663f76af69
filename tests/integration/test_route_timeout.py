"""A policy rule's `route.timeout_s` bounds the upstream call of the requests it routes:
slower than that, the attempt ends as `timeout` and the next candidate answers, while a rule
without it keeps the gateway's default read timeout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.integration.conftest import traffic_policy
from tests.support.upstream import UpstreamServer


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """The traffic policy, with `qa` bounded to 0.3 s per upstream call."""
    policy = traffic_policy()
    policy["rules"][0]["route"]["timeout_s"] = 0.3
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return path


def test_the_route_timeout_ends_a_slow_attempt(
    traffic: FlaskClient, upstream: UpstreamServer
) -> None:
    upstream.slow("alpha", 0.7)  # under the gateway's 1 s default, over the route's 0.3 s
    bounded = traffic.post("/route/execute", json={"task": "qa", "loa": 1, "input": "hi"})
    assert bounded.status_code == 200, bounded.get_json()
    body = bounded.get_json()
    assert body["model"] == "hosted/beta"
    assert [(a["model"], a["outcome"]) for a in body["attempts"]] == [
        ("hosted/alpha", "timeout"),
        ("hosted/beta", "ok"),
    ]
    plan = traffic.post("/route/plan?explain=off", json={"task": "qa", "loa": 1}).get_json()
    assert plan["decision"]["timeout_s"] == 0.3
    # `quiet` routes to the same model with no route timeout: the default (1 s) applies.
    unbounded = traffic.post("/route/execute", json={"task": "quiet", "loa": 1, "input": "hi"})
    assert unbounded.status_code == 200, unbounded.get_json()
    assert unbounded.get_json()["model"] == "hosted/alpha"
