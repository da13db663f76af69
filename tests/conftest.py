"""Fixtures: a real OPA per session, and an app wired to it with a fresh data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.processes import ROOT, Service, start_opa


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where started services write their logs."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def opa(logs_dir: Path) -> Iterator[Service]:
    """One real OPA sidecar for the session."""
    service = start_opa(logs_dir)
    yield service
    service.stop()


@pytest.fixture
def settings(tmp_path: Path, opa: Service) -> Settings:
    """Settings pointing at the session's OPA and a fresh data directory."""
    return Settings(
        opa_url=opa.url,
        data_dir=tmp_path / "data",
        policy_file=ROOT / "policy" / "examples" / "default.json",
        background_jobs=False,
    )


@pytest.fixture
def app(settings: Settings) -> Flask:
    """The application wired to real adapters."""
    return create_app({"TESTING": True, "SETTINGS": settings})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client."""
    return app.test_client()
