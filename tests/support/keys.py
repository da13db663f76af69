"""The keys test proxies are started with, and HTTP sessions that present them."""

from __future__ import annotations

from functools import cache

import requests

# Fixed, long, test-only keys: each proxy registers them from SYMPHONY_ADMIN_KEY and
# SYMPHONY_SIDECAR_KEY, as a fleet is configured.
ADMIN_KEY = "sym_test-admin-0123456789abcdefghijklmnopqrstuvwxyzABCD"
SIDECAR_KEY = "sym_test-sidecar-0123456789abcdefghijklmnopqrstuvwxyzABCD"

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
