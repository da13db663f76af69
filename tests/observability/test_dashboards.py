"""The Grafana dashboard and its provisioning: well-formed, and only series that exist."""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

from tests.observability.assets import (
    DASHBOARD,
    DASHBOARD_PROVIDERS,
    DASHBOARDS_DIR,
    DATASOURCES,
    PROMETHEUS_CONFIG,
    dashboard,
    load_yaml,
    panel_queries,
    panels,
    recording_rules,
)
from tests.observability.contract import CONTRACT_SERIES
from tests.observability.promql import GRAFANA_MACROS, grafana_to_promql, metric_names

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}

# What issue 4 asks the dashboard to show, as the series a panel must read for it.
REQUIRED_VIEWS = {
    "p95 execute latency": {"model:symphony_route_execute_latency_seconds:p95_5m"},
    "decisions by outcome and reason": {"symphony_route_decisions_total"},
    "budget fraction by model": {"model:symphony_model_budget_fraction_used:max"},
    "rpm against cap": {"symphony_model_rpm", "symphony_model_rpm_cap"},
    "tpm against cap": {"symphony_model_tpm", "symphony_model_tpm_cap"},
    "fallbacks": {"symphony_route_fallbacks_total"},
    "policy evaluation latency": {"symphony_policy_eval_seconds_bucket"},
    "error rate": {"job:symphony_http_requests_5xx:ratio_rate5m"},
    "gateway attempts by result": {"symphony_gateway_attempts_total"},
    "window open": {"symphony_model_window_open"},
    "cooling down": {"symphony_model_cooling_down"},
}


def _allowed_series() -> frozenset[str]:
    return CONTRACT_SERIES | {r.name for r in recording_rules()}


def _content_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(board) if p.get("type") != "row"]


def test_dashboard_identity_and_schema() -> None:
    board = dashboard()
    assert board["uid"] == "symphony-ops"
    assert board["title"] == "Symphony Ops"
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board.get("id") is None, "provisioned dashboards carry no database id"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    source = variables["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")


def test_every_panel_has_a_place_an_id_and_the_datasource_variable() -> None:
    board = dashboard()
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(board):
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
    for panel in _content_panels(board):
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]


def test_panels_do_not_overlap() -> None:
    def cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
        g = panel["gridPos"]
        return {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }

    for a, b in combinations(panels(dashboard()), 2):
        assert not cells(a) & cells(b), f"{a['title']!r} overlaps {b['title']!r}"


def test_every_panel_has_a_target_expr() -> None:
    for panel in _content_panels(dashboard()):
        targets = panel.get("targets") or []
        assert targets, f"panel {panel['title']!r} has no query"
        ref_ids = [t.get("refId") for t in targets]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        for target in targets:
            assert str(target.get("expr", "")).strip(), f"{panel['title']!r} has an empty query"


def test_queries_use_only_series_that_exist() -> None:
    allowed = _allowed_series()
    for query in panel_queries(dashboard()):
        assert "nodejs_" not in query.expr, query
        unknown = metric_names(query.expr) - allowed
        assert not unknown, f"{query.panel!r}/{query.ref_id} uses {sorted(unknown)}"


def test_only_known_grafana_variables_are_used() -> None:
    """The live test substitutes these; anything else would reach Prometheus verbatim."""
    for query in panel_queries(dashboard()):
        assert "$" not in grafana_to_promql(query.expr), (query, sorted(GRAFANA_MACROS))


def test_the_model_variable_reads_a_contract_series() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    model = variables["model"]
    match = re.fullmatch(r"label_values\((\w+),\s*model\)", model["definition"])
    assert match and match.group(1) in CONTRACT_SERIES, model["definition"]
    assert model["query"]["query"] == model["definition"]
    assert model["allValue"] == GRAFANA_MACROS["$model"]


def test_the_issue_views_are_all_there() -> None:
    used: set[str] = set()
    for query in panel_queries(dashboard()):
        used |= metric_names(query.expr)
    for view, series in REQUIRED_VIEWS.items():
        assert series <= used, f"no panel shows {view} ({sorted(series - used)})"


def test_datasource_provisioning() -> None:
    loaded = load_yaml(DATASOURCES)
    assert loaded["apiVersion"] == 1
    (source,) = loaded["datasources"]
    assert source["type"] == "prometheus"
    assert source["access"] == "proxy"
    assert source["url"] == "http://127.0.0.1:9090"
    assert source["uid"] and source["isDefault"] is True
    # $__rate_interval assumes this equals Prometheus' scrape interval.
    scrape = load_yaml(PROMETHEUS_CONFIG)["global"]
    assert source["jsonData"]["timeInterval"] == scrape["scrape_interval"]


def test_dashboard_provider_provisioning() -> None:
    loaded = load_yaml(DASHBOARD_PROVIDERS)
    assert loaded["apiVersion"] == 1
    (provider,) = loaded["providers"]
    assert provider["type"] == "file"
    assert provider["folder"]
    path = provider["options"]["path"]
    assert isinstance(path, str) and path.startswith("/")
    assert DASHBOARD.parent == DASHBOARDS_DIR
    assert sorted(p.name for p in DASHBOARDS_DIR.iterdir()) == ["symphony.json"]
