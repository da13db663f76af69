"""The checked-in observability files, loaded once and typed for the tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import ROOT

PROMETHEUS_DIR = ROOT / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_FILE = PROMETHEUS_DIR / "alerting-rules.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"
DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
DASHBOARD = DASHBOARDS_DIR / "symphony.json"
DATASOURCES = ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = ROOT / "grafana" / "provisioning" / "dashboards" / "symphony.yml"

SLO_GROUP = "symphony-slo"


def load_yaml(path: Path) -> Any:
    """A YAML file's content."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Rule:
    """One alerting or recording rule, with the group it sits in."""

    group: str
    name: str
    expr: str
    is_alert: bool
    labels: dict[str, str]
    annotations: dict[str, str]


def rules() -> list[Rule]:
    """Every rule of prometheus/alerting-rules.yml, in file order."""
    loaded: list[Rule] = []
    for group in load_yaml(RULES_FILE)["groups"]:
        for raw in group["rules"]:
            is_alert = "alert" in raw
            loaded.append(
                Rule(
                    group=group["name"],
                    name=raw["alert"] if is_alert else raw["record"],
                    expr=str(raw["expr"]).strip(),
                    is_alert=is_alert,
                    labels=dict(raw.get("labels") or {}),
                    annotations=dict(raw.get("annotations") or {}),
                )
            )
    return loaded


def alerts() -> list[Rule]:
    """The alerting rules."""
    return [r for r in rules() if r.is_alert]


def recording_rules() -> list[Rule]:
    """The recording rules."""
    return [r for r in rules() if not r.is_alert]


def dashboard() -> dict[str, Any]:
    """grafana/dashboards/symphony.json."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel."""

    panel: str
    ref_id: str
    expr: str


def panel_queries(board: dict[str, Any]) -> list[PanelQuery]:
    """Every target expression of every panel."""
    return [
        PanelQuery(panel["title"], target.get("refId", "?"), target.get("expr", ""))
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    """The anchors of docs/runbooks.md's headings."""
    text = RUNBOOKS.read_text(encoding="utf-8")
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+)$", text, re.M)}
