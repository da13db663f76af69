"""Alert and recording rules: promtool checks and unit tests, and the mixin conventions."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests.observability.assets import (
    PROMETHEUS_CONFIG,
    RULE_TESTS,
    RULES_FILE,
    RUNBOOKS,
    SLO_GROUP,
    Rule,
    alerts,
    github_anchor,
    load_yaml,
    recording_rules,
    rules,
    runbook_anchors,
)
from tests.observability.contract import CONTRACT_SERIES, OPA_JOB
from tests.observability.promql import metric_names
from tests.support.processes import ROOT, tool

SEVERITIES = {"info", "warning", "critical"}
# Absolute links from one base: Prometheus' external label `runbook_base`, else the proxy's docs.
RUNBOOK_URL = re.compile(
    r"^\{\{ with \$externalLabels\.runbook_base \}\}\{\{ \. \}\}"
    r"\{\{ else \}\}http://127\.0\.0\.1:8787/docs\{\{ end \}\}/runbooks\.md#([a-z0-9\-]+)$"
)
# The issue's minimum set; more alerts are welcome, fewer are not.
REQUIRED_ALERTS = {
    "RouteExecuteP95High",
    "BudgetExhaustion",
    "BudgetCritical",
    "PolicyEngineDown",
    "ProviderThrottling",
    "HighErrorRate",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool from the repository root."""
    return subprocess.run(
        [tool("promtool"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_rules_passes() -> None:
    result = promtool("check", "rules", str(RULES_FILE.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config_passes() -> None:
    result = promtool("check", "config", str(PROMETHEUS_CONFIG.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerting-rules.yml" in result.stdout, "prometheus.yml must load alerting-rules.yml"


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool unit tests in prometheus/tests/"
    result = promtool("test", "rules", *(str(p.relative_to(ROOT)) for p in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_config_scrapes_the_proxy_and_opa_and_loads_the_rules_by_relative_path() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["symphony-proxy"]["static_configs"][0]["targets"] == ["127.0.0.1:8787"]
    assert jobs[OPA_JOB]["static_configs"][0]["targets"] == ["127.0.0.1:8181"]
    assert config["rule_files"] == ["alerting-rules.yml"]
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"]


def test_the_slo_group_holds_every_alert_and_the_issue_minimum() -> None:
    names = {a.name for a in alerts()}
    assert names >= REQUIRED_ALERTS, f"missing: {sorted(REQUIRED_ALERTS - names)}"
    assert {a.group for a in alerts()} == {SLO_GROUP}
    assert len(names) == len(alerts()), "alert names must be unique"


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a.name)
def test_alert_follows_the_mixin_conventions(alert: Rule) -> None:
    assert alert.labels.get("severity") in SEVERITIES, alert.labels
    summary = alert.annotations.get("summary", "")
    description = alert.annotations.get("description", "")
    assert summary, "a fixed summary is required"
    assert "{{" not in summary, "the summary is fixed; details go in the description"
    assert "{{" in description, "the description must be templated"
    assert "$labels" in description or "$value" in description
    url = alert.annotations.get("runbook_url", "")
    match = RUNBOOK_URL.match(url)
    assert match, f"runbook_url {url!r} must be <runbook_base>/runbooks.md#<anchor>"
    assert match.group(1) in runbook_anchors(), f"{RUNBOOKS.name} has no heading for {url}"


def test_runbooks_have_one_section_per_alert_and_their_links_resolve() -> None:
    anchors = runbook_anchors()
    urls = [a.annotations["runbook_url"] for a in alerts()]
    assert len(set(urls)) == len(urls), "each alert gets its own runbook section"
    text = RUNBOOKS.read_text(encoding="utf-8")
    for link in re.findall(r"\]\(#([^)]+)\)", text):
        assert link in anchors, f"broken in-page link #{link}"
    for heading in ("Kill switch on", "Provider 429s", "Budget at 95%", "Gateway down"):
        assert github_anchor(heading) in anchors, f"runbook section {heading!r} is missing"


def test_rules_use_only_contract_metrics_and_defined_recordings() -> None:
    recorded = {r.name for r in recording_rules()}
    assert len(recorded) == len(recording_rules()), "recorded names must be unique"
    for rule in rules():
        unknown = metric_names(rule.expr) - CONTRACT_SERIES - recorded
        assert not unknown, f"{rule.name} uses series outside the contract: {sorted(unknown)}"


def test_selectors_live_in_recording_rules_only() -> None:
    """Alerts read recorded series; raw metrics (and their job selectors) appear once."""
    recorded = {r.name for r in recording_rules()}
    for alert in alerts():
        raw = metric_names(alert.expr) - recorded
        assert not raw, f"{alert.name} reads raw series {sorted(raw)}; record them first"
    for rule in recording_rules():
        for name in metric_names(rule.expr) & CONTRACT_SERIES:
            if name.startswith("http_request_duration_seconds"):
                assert f'job="{OPA_JOB}"' in rule.expr, f"{rule.name}: OPA's metric needs job"
            elif name != "up":
                assert 'job="symphony-proxy"' in rule.expr, f"{rule.name}: missing job selector"


def _alert_test_cases() -> dict[str, dict[str, list[str]]]:
    """alertname -> {"firing": [where], "silent": [where]} over every promtool test file."""
    cases: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"firing": [], "silent": []})
    for path in RULE_TESTS:
        for group in load_yaml(path)["tests"]:
            for case in group.get("alert_rule_test") or []:
                kind = "firing" if case.get("exp_alerts") else "silent"
                where = f"{path.name}: {group.get('name', '?')} @ {case['eval_time']}"
                cases[case["alertname"]][kind].append(where)
    return cases


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    cases = _alert_test_cases()
    for alert in alerts():
        assert cases[alert.name]["firing"], f"no promtool test shows {alert.name} firing"
        assert cases[alert.name]["silent"], f"no promtool test shows {alert.name} not firing"
    unknown = set(cases) - {a.name for a in alerts()}
    assert not unknown, f"tests for alerts that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_unit_tests_load_the_real_rule_file(path: Path) -> None:
    loaded = load_yaml(path)
    targets = {(path.parent / f).resolve() for f in loaded["rule_files"]}
    assert targets == {RULES_FILE.resolve()}
    assert loaded.get("group_eval_order", [])[-1:] == [SLO_GROUP], (
        "recording rules must be evaluated before the alerts that read them"
    )
