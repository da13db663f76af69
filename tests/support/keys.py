"""The keys test proxies are started with, and HTTP sessions that present them."""

from __future__ import annotations

from functools import cache

import requests
from flask import Flask
from flask.testing import FlaskClient

# Fixed, long, test-only keys: each proxy registers them from SYMPHONY_ADMIN_KEY and
# SYMPHONY_SIDECAR_KEY, as a fleet is configured.
ADMIN_KEY = "sym_test-admin-0123456789abcdefghijklmnopqrstuvwxyzABCD"
SIDECAR_KEY = "sym_test-sidecar-0123456789abcdefghijklmnopqrstuvwxyzABCD"

# Settings of an app built in the test process: the same keys; tests present wrong keys on
# purpose, so the failed-authentication limit is lifted (it has a test of its own).
KEY_SETTINGS: dict[str, str] = {
    "admin_key": ADMIN_KEY,
    "sidecar_key": SIDECAR_KEY,
    "auth_failure_limit": "10000/minute",
}

KEY_ENV = {"SYMPHONY_ADMIN_KEY": ADMIN_KEY, "SYMPHONY_SIDECAR_KEY": SIDECAR_KEY}


def bearer(key: str = ADMIN_KEY) -> dict[str, str]:
    """An Authorization header for `key`."""
    return {"Authorization": f"Bearer {key}"}


@cache
def api() -> requests.Session:
    """A session that presents the admin key (which includes every other role)."""
    session = requests.Session()
    session.headers.update(bearer())
    return session


def signed_in(app: Flask) -> FlaskClient:
    """A Flask test client of `app` that presents the admin key on every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer()["Authorization"]
    return client
