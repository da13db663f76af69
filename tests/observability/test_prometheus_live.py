"""Every panel, recording rule and alert expression against a real Prometheus scraping a proxy.

A real Prometheus (the Debian package) runs prometheus/prometheus.yml at a 1 s cadence with
the real alerting-rules.yml, scraping a proxy under gunicorn and its OPA sidecar. The proxy
routes the example policy's traffic to a stand-in upstream that is steered to throttle and
to fail, so that every series the assets read exists.

What "returns data" means here:
- panel queries and recording rules: the instant query answers at least one sample
  (Grafana variables replaced: `$__rate_interval` by 1m, `$model` by `.*`);
- alerts: a firing alert would be the wrong demand (the stack is healthy), so each alert
  expression must parse as a whole, and each of its operands, with its scalar threshold
  removed (`x > 0.1 and on (model) y > 5 / 300` gives `x` and `y`), must answer samples:
  the value the alert compares exists, so the alert can fire when it crosses the line.
  KillSwitchBlocked, whose traffic the test does cause, must actually fire.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.observability.assets import (
    SLO_GROUP,
    alerts,
    dashboard,
    panel_queries,
    recording_rules,
)
from tests.observability.contract import CONTRACT, OPA_JOB, PROXY_JOB, ContractMetric
from tests.observability.prometheus_server import PrometheusApi, start_prometheus
from tests.observability.promql import grafana_to_promql, threshold_operands
from tests.support.keys import api
from tests.support.processes import ROOT, Service
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow

SETTLE_S = 45.0  # how long rule groups and rate windows get to fill once traffic was sent
QA = {"task": "qa", "loa": 1, "risk": "low"}


@dataclass
class Observed:
    """The running stack and the Prometheus watching it."""

    stack: Stack
    prometheus: Service
    api: PrometheusApi
    deadline: float


def _post(stack: Stack, path: str, body: dict[str, Any]) -> requests.Response:
    return api().post(f"{stack.url}{path}", json=body, timeout=30)


def _execute(stack: Stack, text: str, stream: bool = False, **context: Any) -> int:
    body = {**QA, **context, "input": text, "stream": stream}
    with api().post(f"{stack.url}/route/execute", json=body, timeout=30, stream=True) as r:
        for _ in r.iter_content(chunk_size=None):
            pass  # read SSE answers to the end, so the execution is complete and observed
        return r.status_code


def _kill_switch(stack: Stack, on: bool) -> None:
    response = api().put(
        f"{stack.url}/controls/kill-switch",
        json={"on": on, "reason": "test"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _send_traffic(stack: Stack, api: PrometheusApi) -> None:
    """Plans, executes (JSON and SSE), a 429 burst with fallbacks, a 502, kill-switch denials."""
    upstream = stack.upstream
    for i in range(3):
        assert _post(stack, "/route/plan", {**QA, "input": f"plan {i}"}).status_code == 200
        assert _execute(stack, f"hello {i}") == 200
        assert _execute(stack, f"stream {i}", stream=True) == 200
    # The preferred hosted model throttles: attempts answer 429, the local model serves.
    upstream.fail("gemini-1.5-pro", 429, retry_after=None)
    for i in range(4):
        assert _execute(stack, f"throttled {i}") == 200
    # Every candidate fails once: a 502 all_attempts_failed.
    upstream.fail("smollm2", 500)
    assert _execute(stack, "nothing works") == 502
    upstream.restore("smollm2")
    upstream.restore("gemini-1.5-pro")
    # Kill-switch denials on both sides of a scrape, so the counter's rate is above zero.
    _kill_switch(stack, True)
    risky = {"task": "qa", "loa": 2, "risk": "low", "input": "risky"}
    assert _post(stack, "/route/execute", risky).status_code == 403
    api.query_until_data(
        'symphony_route_decisions_total{reason="kill_switch"}', time.monotonic() + 15
    )
    time.sleep(1.5)
    assert _post(stack, "/route/execute", risky).status_code == 403
    _kill_switch(stack, False)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """The stack under the example policy, a Prometheus on it, and the traffic sent."""
    workdir = tmp_path_factory.mktemp("prometheus-live")
    policy = json.loads((ROOT / "policy" / "examples" / "default.json").read_text())
    with running_stack(workdir, policy) as stack:
        targets = {
            PROXY_JOB: f"127.0.0.1:{stack.proxy.port}",
            OPA_JOB: f"127.0.0.1:{stack.opa.port}",
        }
        prometheus = start_prometheus(workdir / "logs", workdir, targets)
        try:
            api = PrometheusApi(prometheus.url)
            api.query_until_data(f'up{{job="{PROXY_JOB}"}} == 1', time.monotonic() + 20)
            _send_traffic(stack, api)
            yield Observed(stack, prometheus, api, time.monotonic() + SETTLE_S)
        finally:
            prometheus.stop()


def _missing_data(api: PrometheusApi, labelled: dict[str, str], deadline: float) -> list[str]:
    """The `label: expr` entries that fail to parse or answer no sample before `deadline`."""
    problems = []
    for label, expr in labelled.items():
        body = api.query_until_data(expr, deadline)
        if body.get("status") != "success":
            problems.append(f"{label}: {expr}\n    error: {body.get('error')}")
        elif not body["data"]["result"]:
            problems.append(f"{label}: {expr}\n    no data")
    return problems


def test_the_rule_groups_are_loaded_and_healthy(observed: Observed) -> None:
    body = observed.api.query_until_data(
        "model:symphony_gateway_attempts_throttled:ratio_rate5m", observed.deadline
    )
    assert body["status"] == "success"
    groups = {g["name"]: g for g in observed.api.get("rules")["data"]["groups"]}
    assert SLO_GROUP in groups, sorted(groups)
    loaded = {r["name"] for g in groups.values() for r in g["rules"]}
    expected = {r.name for r in alerts()} | {r.name for r in recording_rules()}
    assert expected <= loaded, sorted(expected - loaded)
    unhealthy = [
        (r["name"], r.get("lastError"))
        for g in groups.values()
        for r in g["rules"]
        if r["health"] != "ok"
    ]
    assert not unhealthy, unhealthy


def test_both_scrape_targets_are_up(observed: Observed) -> None:
    targets = observed.api.get("targets")["data"]["activeTargets"]
    health = {t["labels"]["job"]: (t["health"], t.get("lastError")) for t in targets}
    assert health == {PROXY_JOB: ("up", ""), OPA_JOB: ("up", "")}


def test_every_dashboard_query_returns_data(observed: Observed) -> None:
    queries = {
        f"{q.panel} / {q.ref_id}": grafana_to_promql(q.expr) for q in panel_queries(dashboard())
    }
    problems = _missing_data(observed.api, queries, observed.deadline)
    assert not problems, "\n".join(problems)


def test_the_model_variable_lists_the_policy_models(observed: Observed) -> None:
    body = observed.api.get("label/model/values", **{"match[]": "symphony_model_rpm_cap"})
    assert set(body["data"]) == {"hosted/gemini-1.5-pro", "hosted/grok-code", "local/smollm2"}


def test_every_recording_rule_returns_data(observed: Observed) -> None:
    recorded = {r.name: r.name for r in recording_rules()}
    problems = _missing_data(observed.api, recorded, observed.deadline)
    # The recorded expressions themselves, evaluated by the API, must agree.
    problems += _missing_data(
        observed.api, {f"{r.name} (expr)": r.expr for r in recording_rules()}, observed.deadline
    )
    assert not problems, "\n".join(problems)


def test_every_alert_parses_and_what_it_compares_returns_data(observed: Observed) -> None:
    problems = []
    for alert in alerts():
        body = observed.api.query(alert.expr)
        if body.get("status") != "success":
            problems.append(f"{alert.name}: {alert.expr}\n    error: {body.get('error')}")
        operands = {
            f"{alert.name} operand {i}": op for i, op in enumerate(threshold_operands(alert.expr))
        }
        problems += _missing_data(observed.api, operands, observed.deadline)
    assert not problems, "\n".join(problems)


def test_kill_switch_denials_fire_the_alert(observed: Observed) -> None:
    def firing() -> list[dict[str, Any]]:
        found = observed.api.get("alerts")["data"]["alerts"]
        return [
            a
            for a in found
            if a["labels"]["alertname"] == "KillSwitchBlocked" and a["state"] == "firing"
        ]

    while not firing() and time.monotonic() < observed.deadline:
        time.sleep(0.5)
    (alert,) = firing()
    assert alert["labels"]["severity"] == "info"
    # Absolute, from the external label runbook_base of prometheus/prometheus.yml.
    assert (
        alert["annotations"]["runbook_url"]
        == "http://127.0.0.1:8787/docs/runbooks.md#kill-switch-on"
    )
    assert "requests/s on symphony-proxy" in alert["annotations"]["description"]


@pytest.mark.parametrize("metric", CONTRACT, ids=lambda m: m.name)
def test_the_exports_keep_the_metrics_contract(observed: Observed, metric: ContractMetric) -> None:
    selector = metric.queryable_name + (f'{{job="{metric.job}"}}' if metric.job else "")
    body = observed.api.query_until_data(selector, observed.deadline)
    samples = body["data"]["result"]
    assert samples, f"{selector} is not exported"
    for sample in samples:
        labels = set(sample["metric"]) - {"__name__", "job", "instance"}
        assert labels == set(metric.labels), (selector, sample["metric"])
        for name, allowed in metric.values.items():
            assert sample["metric"][name] in allowed, (selector, sample["metric"])
