"""A real Prometheus (the Debian package) for tests: the checked-in config, test cadence."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.observability.assets import PROMETHEUS_CONFIG, load_yaml
from tests.support.processes import Service, free_port, spawn, tool


def config_for_tests(targets: Mapping[str, str], interval: str = "1s") -> dict[str, Any]:
    """prometheus/prometheus.yml with `interval` cadences, absolute rule paths and `targets`.

    `targets` maps each scrape job of the checked-in file to a host:port; a job without one
    is an error, so a job added to the file cannot go untested.
    """
    config: dict[str, Any] = load_yaml(PROMETHEUS_CONFIG)
    config["global"].update(
        scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval
    )
    config["rule_files"] = [
        str((PROMETHEUS_CONFIG.parent / name).resolve()) for name in config["rule_files"]
    ]
    # Test alerts must not reach an Alertmanager the developer runs (it would file tickets);
    # a test that wants alerting adds its own.
    config.pop("alerting", None)
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    missing = sorted(set(jobs) - set(targets))
    if missing:
        raise ValueError(f"no test target for scrape jobs {missing}")
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


@dataclass
class PrometheusApi:
    """The HTTP API of a running Prometheus."""

    url: str

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET /api/v1/<path>; the decoded body whatever the status (errors carry `error`)."""
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body: dict[str, Any] = response.json()
        return body

    def query(self, expr: str) -> dict[str, Any]:
        """An instant query at now."""
        return self.get("query", query=expr)

    def query_until_data(self, expr: str, deadline: float) -> dict[str, Any]:
        """Poll an instant query until it answers samples, fails to parse, or `deadline`."""
        while True:
            body = self.query(expr)
            if body.get("status") != "success" or body["data"]["result"]:
                return body
            if time.monotonic() >= deadline:
                return body
            time.sleep(0.5)


def start_prometheus(
    log_dir: Path,
    work_dir: Path,
    targets: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> Service:
    """Prometheus on a free port over the test config (with `extra` top-level settings, such
    as rule files and alerting), with its TSDB in `work_dir`."""
    port = free_port()
    config_path = work_dir / "prometheus.yml"
    config = {**config_for_tests(targets), **(extra or {})}
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    service = spawn(
        "prometheus",
        [
            tool("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={work_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        port,
        log_dir,
    )
    return service.ready("/-/ready", timeout_s=30)
