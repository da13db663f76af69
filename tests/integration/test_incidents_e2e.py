"""The whole incident loop with real processes, timed.

A real Prometheus (1 s scrapes and evaluations) scrapes a real proxy (gunicorn) whose
stand-in upstream starts answering 429 for one model; ProviderThrottling fires; a real
Alertmanager (1 s group wait and interval, 4 s repeat) notifies the proxy; the proxy's
incident worker files exactly one GitHub issue and one Jira issue in the stand-ins and mutes
the warning in Alertmanager; the proxy is restarted while GitHub is failing, and the pending
GitHub work is done by the new process; the alert repeats (once the short test silence
ends) and each ticket gets one comment per notification; the upstream recovers, the alert
resolves (enough successes bring the throttled share under 10%), the GitHub issue is closed
and the Jira issue moved to Done.

Only ProviderThrottling's `for` is shortened (to 1 s) in the test's copy of the rules; the
others keep theirs, so the restart does not fire SymphonyProxyDown (`for: 1m`).

The measured latency, alert firing (Prometheus) -> ticket filed, is printed (pytest -s).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.integration.conftest import traffic_policy
from tests.observability.assets import RULES_FILE
from tests.observability.contract import OPA_JOB, PROXY_JOB
from tests.observability.prometheus_server import PrometheusApi, start_prometheus
from tests.support.alertmanager import silences, start_alertmanager
from tests.support.github_standin import GitHubStandIn
from tests.support.jira_standin import JiraStandIn
from tests.support.keys import api
from tests.support.processes import Service, free_port, start_proxy
from tests.support.stack import proxy_env, running_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

ALERTMANAGER_KEY = "sym_test-alertmanager-e2e-0123456789abcdefghijklmnopqrstuv"
QA = {"task": "qa", "loa": 1, "risk": "low"}
SILENCE_S = 8


def rules_for_test(work_dir: Path) -> Path:
    """alerting-rules.yml with ProviderThrottling's `for` cut to 1 s."""
    rules: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "ProviderThrottling":
                rule["for"] = "1s"
    path = work_dir / "alerting-rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    return path


def execute(url: str, text: str) -> int:
    """One /route/execute; its status."""
    body = {**QA, "input": text, "stream": False}
    return api().post(f"{url}/route/execute", json=body, timeout=30).status_code


def incidents(url: str) -> list[dict[str, Any]]:
    """GET /incidents?state=all of the proxy."""
    response = api().get(f"{url}/incidents?state=all", timeout=10)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["incidents"]
    return found


def firing(prometheus: PrometheusApi, name: str) -> bool:
    """Whether Prometheus has alert `name` firing."""
    alerts = prometheus.get("alerts")["data"]["alerts"]
    return any(a["labels"]["alertname"] == name and a["state"] == "firing" for a in alerts)


def test_provider_429s_to_tickets_and_back(tmp_path: Path, logs_dir: Path) -> None:
    github = GitHubStandIn().start()
    jira = JiraStandIn().start()
    key_file = tmp_path / "alertmanager.key"
    key_file.write_text(ALERTMANAGER_KEY + "\n")
    am_port = free_port()
    policy = traffic_policy(cooldown={"failures": 100, "seconds": 1})
    for model in policy["models"]:
        if "daily_usd_cap" in model:
            model["daily_usd_cap"] = 10_000.0  # no budget alert in the way
    env = {
        "GH_OWNER": github.owner,
        "GH_REPO": github.repo,
        "GH_TOKEN": github.token,
        "GH_API_URL": github.url,
        "JIRA_BASE_URL": jira.url,
        "JIRA_EMAIL": jira.email,
        "JIRA_API_TOKEN": jira.token,
        "JIRA_PROJECT": jira.project,
        "SYMPHONY_ALERTMANAGER_URL": f"http://127.0.0.1:{am_port}",
        "SYMPHONY_ALERTMANAGER_KEY": ALERTMANAGER_KEY,
        "SYMPHONY_SILENCE_DURATION": f"{SILENCE_S}s",
        "SYMPHONY_INCIDENT_POLL_S": "0.2",
        "SYMPHONY_INCIDENT_RECONCILE_S": "2",
        "SYMPHONY_INCIDENT_BACKOFF_S": "0.5",
        "SYMPHONY_INCIDENT_BACKOFF_CAP_S": "1",
        "SYMPHONY_INCIDENT_MAX_ATTEMPTS": "1000",
        "SYMPHONY_INCIDENT_LEASE_S": "10",
    }
    restarted: Service | None = None
    try:
        with running_stack(tmp_path, policy, **env) as stack:
            alertmanager = start_alertmanager(
                logs_dir, tmp_path / "am", stack.url, key_file, port=am_port
            )
            targets = {
                PROXY_JOB: f"127.0.0.1:{stack.proxy.port}",
                OPA_JOB: f"127.0.0.1:{stack.opa.port}",
            }
            alerting = {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
            }
            prometheus = start_prometheus(
                logs_dir,
                tmp_path,
                targets,
                {"rule_files": [str(rules_for_test(tmp_path))], "alerting": alerting},
            )
            try:
                prom = PrometheusApi(prometheus.url)
                prom.query_until_data(f'up{{job="{PROXY_JOB}"}} == 1', time.monotonic() + 20)
                # GitHub is down for now; Jira answers.
                github.fail(500, times=100_000)
                stack.upstream.fail("alpha", 429, retry_after=None)
                # A few 429s first, so Prometheus has the counter's series before the burst
                # (rate() needs two samples of it).
                for i in range(2):
                    assert execute(stack.url, f"throttled {i}") == 200  # the fallback serves
                prom.query_until_data(
                    'symphony_gateway_attempts_total{result="http_429"}', time.monotonic() + 20
                )
                time.sleep(1.5)
                for i in range(12):
                    assert execute(stack.url, f"throttled again {i}") == 200
                eventually(lambda: firing(prom, "ProviderThrottling"), 60, "the alert firing")
                fired_at = time.monotonic()
                eventually(lambda: jira.issues, 30, "a Jira issue")
                to_ticket_s = time.monotonic() - fired_at
                (incident,) = incidents(stack.url)
                assert incident["alertname"] == "ProviderThrottling"
                assert incident["model"] == "hosted/alpha"
                # The warning is muted while its ticket is open, and the silence names it.
                (silence,) = eventually(lambda: silences(alertmanager.url), 20, "a silence")
                assert "/browse/OPS-1" in silence["comment"]
                # GitHub's work is pending (retried): restart the proxy in the middle of it.
                eventually(
                    lambda: (
                        incidents(stack.url)[0]["work"]["pending"] >= 1
                        and "retrying" in incidents(stack.url)[0]["last_event"]
                    ),
                    20,
                    "GitHub work retrying",
                )
                assert github.issues == {}
                stack.proxy.stop()
                github.clear_faults()
                restarted_env = proxy_env(
                    stack.opa.url,
                    stack.data_dir,
                    tmp_path / "policy.json",
                    stack.upstream.url,
                    **env,
                )
                restart_at = time.monotonic()
                restarted = start_proxy(logs_dir, restarted_env, port=stack.proxy.port)
                eventually(lambda: github.issues, 30, "the GitHub issue after the restart")
                after_restart_s = time.monotonic() - restart_at
                # The silence ends; Alertmanager repeats; each ticket gets a comment.
                eventually(
                    lambda: github.issues[1].comments and jira.issues["OPS-1"].comments,
                    SILENCE_S + 30,
                    "a comment on both tickets",
                )
                # The upstream recovers: successes bring the throttled ratio under 10%.
                stack.upstream.restore("alpha")
                ratio = (
                    'model:symphony_gateway_attempts_throttled:ratio_rate5m{model="hosted/alpha"}'
                )

                def recovered() -> bool:
                    found = prom.query(ratio)["data"]["result"]
                    return bool(found) and float(found[0]["value"][1]) < 0.1

                sent = 0
                while not recovered() and sent < 1000:
                    for _ in range(50):
                        assert execute(stack.url, f"fine {sent}") == 200
                        sent += 1
                    time.sleep(2.5)  # two scrapes and an evaluation
                assert recovered(), f"still throttled after {sent} successes"
                # A margin, so the ratio's estimate (a series that started mid-window) cannot
                # come back over 10% and fire the alert a second time.
                for i in range(100):
                    assert execute(stack.url, f"margin {i}") == 200
                eventually(
                    lambda: (
                        github.issues[1].state == "closed" and jira.issues["OPS-1"].status == "Done"
                    ),
                    90,
                    "the tickets closed",
                )
                found = incidents(stack.url)
                assert len(found) == 1, [(i["alertname"], i["state"], i["labels"]) for i in found]
                (incident,) = found
                assert incident["state"] == "resolved"
                assert len(github.issues) == 1 and len(jira.issues) == 1
                repeats = incident["notifications"] - 1
                assert repeats >= 1
                eventually(
                    lambda: (
                        len(github.issue_comments(1)) == repeats + 1
                        and len(jira.comment_texts("OPS-1")) == repeats + 1
                    ),
                    10,
                    "one comment per repeat plus the resolution, on each ticket",
                )
                assert github.issues[1].state_reason == "completed"
                assert silences(alertmanager.url) == []
                print(
                    json.dumps(
                        {
                            "alert_firing_to_jira_ticket_s": round(to_ticket_s, 2),
                            "restart_to_github_ticket_s": round(after_restart_s, 2),
                            "notifications": incident["notifications"],
                        }
                    )
                )
            finally:
                prometheus.stop()
                alertmanager.stop()
    finally:
        if restarted is not None:
            restarted.stop()
        github.stop()
        jira.stop()
        requests.Session().close()
