"""Two proxies sharing one real Redis never admit more than the cap between them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.conftest import traffic_policy
from tests.support.keys import api
from tests.support.processes import Service, free_port, start_opa, start_proxy, start_redis
from tests.support.stack import proxy_env
from tests.support.upstream import UpstreamServer

CAP = 50


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Service]:
    service = start_redis(tmp_path / "logs")
    yield service
    service.stop()


def capped_policy() -> dict[str, object]:
    policy = traffic_policy()
    alpha = dict(policy["models"][0])
    alpha["rpm_cap"] = CAP
    policy["models"] = [alpha]
    policy["rules"] = [{"id": "all", "match": {}, "route": {"prefer": ["hosted/alpha"]}}]
    return policy


def test_two_proxies_admit_exactly_the_cap(tmp_path: Path, redis_server: Service) -> None:
    logs = tmp_path / "logs"
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(capped_policy()))
    opa_url = f"http://127.0.0.1:{free_port()}"
    upstream = UpstreamServer(models=("alpha",)).start()
    proxies: list[Service] = []
    opa: Service | None = None
    try:
        for name in ("a", "b"):
            env = proxy_env(
                opa_url,
                tmp_path / f"data-{name}",
                policy_file,
                upstream.url,
                SYMPHONY_REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0",
                SYMPHONY_DATABASE_URL=f"sqlite:///{tmp_path / 'shared.db'}",
                SYMPHONY_BACKGROUND_JOBS="false",
            )
            proxies.append(start_proxy(logs, env))
        # One sidecar for both: they share one store (a SQLite file on this host).
        opa = start_opa(logs, proxies[0].url, port=int(opa_url.rsplit(":", 1)[1]))

        def call(i: int) -> int:
            target = proxies[i % 2].url
            response = api().post(
                f"{target}/route/execute",
                json={"task": "qa", "loa": 0, "input": f"n{i}"},
                timeout=30,
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=64) as pool:
            statuses = Counter(pool.map(call, range(200)))
        assert statuses == {200: CAP, 429: 200 - CAP}
        assert len(upstream.requests_for("alpha")) == CAP

        # The count lives in Redis: a restarted proxy still sees the minute's requests.
        health = api().get(f"{proxies[0].url}/status/health.json", timeout=5).json()
        assert health["counters"] == {"store": "redis", "persistent": True}
        proxies[0].stop()
        env = proxy_env(
            opa_url,
            tmp_path / "data-a",
            policy_file,
            upstream.url,
            SYMPHONY_REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0",
            SYMPHONY_DATABASE_URL=f"sqlite:///{tmp_path / 'shared.db'}",
            SYMPHONY_BACKGROUND_JOBS="false",
        )
        proxies[0] = start_proxy(logs, env, port=proxies[0].port)
        metrics = api().get(f"{proxies[0].url}/metrics", timeout=5).text
        assert f'symphony_model_rpm{{model="hosted/alpha"}} {float(CAP)}' in metrics

        # One kill switch for every proxy on the shared store: set on A, enforced by B.
        api().put(
            f"{proxies[0].url}/controls/kill-switch", json={"on": True, "reason": "test"}, timeout=5
        ).raise_for_status()
        risky = (
            api()
            .post(f"{proxies[1].url}/route/plan", json={"task": "qa", "loa": 3}, timeout=5)
            .json()
        )
        assert risky["decision"]["denial"] == "kill_switch"
        state = api().get(f"{proxies[1].url}/controls/kill-switch", timeout=5).json()
        assert state["kill_switch"] is True
    finally:
        for proxy in proxies:
            proxy.stop()
        upstream.stop()
        if opa is not None:
            opa.stop()
