"""Traffic fixtures: a stand-in upstream and an app whose policy routes to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.keys import KEY_SETTINGS, signed_in
from tests.support.processes import Service
from tests.support.replay import assert_every_record_replays
from tests.support.served import with_sidecar
from tests.support.upstream import UpstreamServer


def traffic_policy(**overrides: Any) -> dict[str, Any]:
    """Two hosted models and a local one, all served by the stand-in upstream."""
    policy: dict[str, Any] = {
        "version": "test",
        "timezone": "Europe/Berlin",
        "cooldown": {"failures": 2, "seconds": 1},
        "models": [
            {
                "name": "hosted/alpha",
                "provider": "standin",
                "class": "hosted",
                "upstream_model": "alpha",
                "context_tokens": 32000,
                "rpm_cap": 1000,
                "tpm_cap": 10_000_000,
                "daily_usd_cap": 10.0,
                "price": {"input_per_1k": 0.5, "output_per_1k": 1.5},
            },
            {
                "name": "hosted/beta",
                "provider": "standin",
                "class": "hosted",
                "upstream_model": "beta",
                "context_tokens": 32000,
                "rpm_cap": 1000,
                "tpm_cap": 10_000_000,
                "daily_usd_cap": 10.0,
                "price": {"input_per_1k": 0.1, "output_per_1k": 0.2},
            },
            {
                "name": "local/gamma",
                "provider": "standin",
                "class": "local",
                "upstream_model": "gamma",
                "context_tokens": 8192,
                "rpm_cap": 1000,
                "tpm_cap": 10_000_000,
                "preamble": "Be brief.",
            },
        ],
        "rules": [
            {
                "id": "qa",
                "match": {"task": "qa"},
                "route": {"prefer": ["hosted/alpha"], "fallback": ["hosted/beta", "local/gamma"]},
            },
            {"id": "private", "match": {"task": "private"}, "route": {"prefer": ["local/gamma"]}},
            {"id": "quiet", "match": {"task": "quiet"}, "route": {"prefer": ["hosted/alpha"]}},
            {
                "id": "nostream",
                "match": {"task": "nostream"},
                "route": {"prefer": ["hosted/beta"], "stream": False},
            },
        ],
    }
    policy.update(overrides)
    return policy


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    """A fresh stand-in upstream per test."""
    with UpstreamServer(models=("alpha", "beta", "gamma")) as server:
        yield server


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """The traffic policy, written where the app seeds from."""
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(traffic_policy()))
    return path


@pytest.fixture
def traffic_settings(
    tmp_path: Path, opa_port: int, upstream: UpstreamServer, policy_file: Path
) -> Settings:
    """Settings routing every model to the stand-in."""
    return Settings(
        opa_url=f"http://127.0.0.1:{opa_port}",
        data_dir=tmp_path / "data",
        policy_file=policy_file,
        gateway_url=upstream.url,
        gateway_key="sk-test-key-123456",
        gateway_read_timeout_s=1.0,
        background_jobs=False,
        **KEY_SETTINGS,  # type: ignore[arg-type]
    )


@pytest.fixture
def traffic_app(traffic_settings: Settings) -> Iterator[Flask]:
    """The app wired to the stand-in; afterwards every recorded decision must replay."""
    application = create_app({"TESTING": True, "SETTINGS": traffic_settings})
    yield application
    assert_every_record_replays(application)


@pytest.fixture
def traffic_opa(traffic_app: Flask, opa_port: int, logs_dir: Path) -> Iterator[Service]:
    """The traffic app's own OPA sidecar."""
    with with_sidecar(traffic_app, opa_port, logs_dir) as service:
        yield service


@pytest.fixture
def traffic(traffic_app: Flask, traffic_opa: Service) -> FlaskClient:
    """A client of the app wired to the stand-in."""
    return signed_in(traffic_app)
