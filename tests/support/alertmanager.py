"""A real Alertmanager (the Debian package) for tests: the checked-in config, test timings.

The copy a test runs differs from deploy/alertmanager/alertmanager.yml only in where the
receiver is (the proxy under test), the key file it presents, and second-scale group and
repeat intervals; clustering is off (no gossip port).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.processes import ROOT, Service, free_port, spawn, tool

CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def config_for_tests(
    receiver_url: str,
    key_file: Path,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "4s",
) -> dict[str, Any]:
    """The checked-in config pointed at `receiver_url` with `key_file`, at test timings."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["route"].update(
        group_wait=group_wait, group_interval=group_interval, repeat_interval=repeat_interval
    )
    (hook,) = config["receivers"][0]["webhook_configs"]
    hook["url"] = f"{receiver_url.rstrip('/')}/alerts/alertmanager"
    hook["http_config"]["authorization"]["credentials_file"] = str(key_file)
    return config


def start_alertmanager(
    log_dir: Path,
    work_dir: Path,
    receiver_url: str,
    key_file: Path,
    port: int | None = None,
    **timings: str,
) -> Service:
    """Alertmanager on `port` (else a free one), sending to `receiver_url`; ready when
    /-/ready answers."""
    port = port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "alertmanager.yml"
    config = config_for_tests(receiver_url, key_file, **timings)
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    service = spawn(
        "alertmanager",
        [
            tool("prometheus-alertmanager"),
            f"--config.file={config_path}",
            f"--storage.path={work_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        port,
        log_dir,
    )
    return service.ready("/-/ready", timeout_s=30)


def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    """Push alerts as Prometheus does (POST /api/v2/alerts)."""
    response = requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=10)
    response.raise_for_status()


def silences(url: str, state: str = "active") -> list[dict[str, Any]]:
    """Silences in `state` (active, pending, expired)."""
    response = requests.get(f"{url}/api/v2/silences", timeout=10)
    response.raise_for_status()
    return [s for s in response.json() if s["status"]["state"] == state]
