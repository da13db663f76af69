"""A proxy under gunicorn with its own OPA, routing to a stand-in upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import Service, free_port, start_opa, start_proxy
from tests.support.upstream import UpstreamServer


@dataclass
class Stack:
    """The running pieces and where they listen."""

    opa: Service
    proxy: Service
    upstream: UpstreamServer
    data_dir: Path

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return self.proxy.url


def proxy_env(
    opa_url: str, data_dir: Path, policy_file: Path, gateway_url: str, **extra: str
) -> dict[str, str]:
    """Environment for a proxy process."""
    return {
        "SYMPHONY_OPA_URL": opa_url,
        "SYMPHONY_DATA_DIR": str(data_dir),
        "SYMPHONY_POLICY_FILE": str(policy_file),
        "SYMPHONY_GATEWAY_URL": gateway_url,
        "SYMPHONY_GATEWAY_KEY": "sk-test-key-123456",
        "SYMPHONY_STATS_INTERVAL_S": "0.5",
        **extra,
    }


@contextmanager
def running_stack(workdir: Path, policy: Mapping[str, Any], **extra_env: str) -> Iterator[Stack]:
    """Start a stand-in upstream, the proxy, and its OPA pulling the proxy's bundle."""
    logs = workdir / "logs"
    policy_file = workdir / "policy.json"
    policy_file.write_text(json.dumps(policy))
    opa_port = free_port()
    upstream = UpstreamServer(models=("alpha", "beta", "gamma")).start()
    try:
        env = proxy_env(
            f"http://127.0.0.1:{opa_port}", workdir / "data", policy_file, upstream.url, **extra_env
        )
        proxy = start_proxy(logs, env)
        try:
            opa = start_opa(logs, proxy.url, port=opa_port)
            try:
                yield Stack(opa, proxy, upstream, workdir / "data")
            finally:
                opa.stop()
        finally:
            proxy.stop()
    finally:
        upstream.stop()
