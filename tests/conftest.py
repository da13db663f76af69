"""Fixtures: an app wired to a fresh data directory, and its own real OPA sidecar pulling
the app's bundle over real HTTP, as a proxy and its sidecar run in production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.keys import KEY_SETTINGS, signed_in
from tests.support.processes import ROOT, Service, free_port
from tests.support.replay import assert_every_record_replays
from tests.support.served import with_sidecar


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where started services write their logs."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture
def opa_port() -> int:
    """The port the test's sidecar will listen on (the app needs it before OPA starts)."""
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, opa_port: int) -> Settings:
    """Settings pointing at the test's sidecar and a fresh data directory."""
    return Settings(
        opa_url=f"http://127.0.0.1:{opa_port}",
        data_dir=tmp_path / "data",
        policy_file=ROOT / "policy" / "examples" / "default.json",
        background_jobs=False,
        propagation_wait_s=5.0,
        **KEY_SETTINGS,  # type: ignore[arg-type]
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """The application wired to real adapters; afterwards, every decision it recorded must
    replay to the same result under its revision."""
    application = create_app({"TESTING": True, "SETTINGS": settings})
    yield application
    assert_every_record_replays(application)


@pytest.fixture
def opa(app: Flask, opa_port: int, logs_dir: Path) -> Iterator[Service]:
    """The app's own real OPA sidecar, ready once it activated the app's bundle."""
    with with_sidecar(app, opa_port, logs_dir) as service:
        yield service


@pytest.fixture
def client(app: Flask, opa: Service) -> FlaskClient:
    """A test client, presenting the admin key, of an app whose sidecar runs the active
    revision."""
    return signed_in(app)
