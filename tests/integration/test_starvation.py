"""The proxy cannot be starved: with 1,000 idle connections, 200 websockets and 64 calls to a
hung upstream open at once, the operator's endpoints still answer (and routing too); the
bounds that end abuse hold: slow headers are cut, per-client connection and websocket caps
refuse the excess. The p99 figure under this load is measured by `bench/siege.py`; here each
answer must arrive well within a second, where a thread-per-connection server answers none."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import simple_websocket

from tests.integration.conftest import traffic_policy
from tests.support.keys import ADMIN_KEY, bearer
from tests.support.processes import Service, start_proxy_with_sidecar
from tests.support.siege import besieged, operator_latencies, percentile
from tests.support.upstream import UpstreamServer

pytestmark = pytest.mark.slow

HUNG_BODY = {"task": "quiet", "loa": 1, "input": "hello", "max_output_tokens": 8}


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    """Stand-in upstream whose `alpha` never answers (an hour before its headers)."""
    with UpstreamServer(models=("alpha", "beta", "gamma")) as server:
        server.slow("alpha", 3600)
        yield server


def proxy_env(tmp_path: Path, upstream: UpstreamServer, **extra: str) -> dict[str, str]:
    """A proxy routing `quiet` to the hung model only, and `qa` elsewhere."""
    policy = traffic_policy()
    policy["rules"][0]["route"] = {"prefer": ["hosted/beta"]}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    return {
        "SYMPHONY_POLICY_FILE": str(tmp_path / "policy.json"),
        "SYMPHONY_DATA_DIR": str(tmp_path / "data"),
        "SYMPHONY_GATEWAY_URL": upstream.url,
        "SYMPHONY_GATEWAY_KEY": "sk-test-key-123456",
        "SYMPHONY_GATEWAY_READ_TIMEOUT_S": "300",
        "SYMPHONY_LOCAL_MODEL_URL": "",
        "SYMPHONY_MAX_CONCURRENT_PER_MODEL": "64",
        **extra,
    }


@pytest.fixture
def proxy(tmp_path: Path, upstream: UpstreamServer) -> Iterator[Service]:
    """A proxy as `symphony serve` runs it, with headers allowed to take long (so the idle
    connections stay open for the whole test: the worst case)."""
    env = proxy_env(tmp_path, upstream, SYMPHONY_HEADER_TIMEOUT_S="300")
    proxy, opa = start_proxy_with_sidecar(tmp_path / "logs", env)
    try:
        yield proxy
    finally:
        opa.stop()
        proxy.stop()


def test_operators_and_clients_are_served_while_everything_is_held(
    proxy: Service, upstream: UpstreamServer
) -> None:
    with besieged(proxy.url, idle=1000, websockets=200, hung=64, hung_body=HUNG_BODY) as siege:
        deadline = time.monotonic() + 60
        while len(upstream.requests_for("alpha")) < 64 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(upstream.requests_for("alpha")) == 64  # all 64 calls are in flight
        latencies = operator_latencies(proxy.url, rounds=20)
        assert max(latencies) < 1.0, f"slowest operator answer {max(latencies):.3f} s"
        print(f"operator p99 under siege: {percentile(latencies, 99) * 1000:.1f} ms")
        # Routing to a healthy model is not starved either.
        routed = requests.post(
            f"{proxy.url}/route/execute",
            json={"task": "qa", "loa": 1, "input": "hi", "max_output_tokens": 8},
            headers=bearer(ADMIN_KEY),
            timeout=10,
        )
        assert routed.status_code == 200, routed.text
        # The kill switch can be thrown and released.
        for on in (True, False):
            thrown = requests.put(
                f"{proxy.url}/controls/kill-switch",
                json={"on": on, "reason": "game day"},
                headers=bearer(ADMIN_KEY),
                timeout=10,
            )
            assert thrown.status_code == 200, thrown.text
        assert siege.open_websockets() == 200
        assert siege.hung_results == []  # the hung calls are still waiting, not refused


def test_slow_headers_are_cut_and_excess_connections_refused(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    env = proxy_env(
        tmp_path,
        upstream,
        SYMPHONY_HEADER_TIMEOUT_S="1",
        SYMPHONY_MAX_CONNECTIONS_PER_CLIENT="20",
        SYMPHONY_MAX_WEBSOCKETS_PER_CLIENT="3",
    )
    proxy, opa = start_proxy_with_sidecar(tmp_path / "logs", env)
    try:
        host, port = "127.0.0.1", proxy.port
        slow = socket.create_connection((host, port), timeout=10)
        slow.sendall(b"GET /status/health.json HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the server, no answer
        assert time.monotonic() - started < 5
        held = [socket.create_connection((host, port), timeout=10) for _ in range(20)]
        excess = socket.create_connection((host, port), timeout=10)
        assert excess.recv(1024) == b""  # the 21st connection is closed at once
        for sock in [*held, excess, slow]:
            sock.close()
        time.sleep(0.5)
        url = f"ws://{host}:{port}/events"
        sockets = [
            simple_websocket.Client.connect(url, headers=bearer(ADMIN_KEY)) for _ in range(3)
        ]
        refused = requests.get(
            f"{proxy.url}/events",
            headers={
                **bearer(ADMIN_KEY),
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
            timeout=10,
        )
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_websockets"
        for ws in sockets:
            ws.close()
        assert requests.get(f"{proxy.url}/metrics", timeout=10).status_code == 200
    finally:
        opa.stop()
        proxy.stop()
