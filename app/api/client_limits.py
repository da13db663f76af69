"""Per-client rate limits (flask-limiter) on the routing endpoints, when configured.

`SYMPHONY_CLIENT_RATE_LIMIT` (e.g. `600/minute`) applies per client address and per route to
`/route/*` and `/v1/*`; it is shared through Redis when `SYMPHONY_REDIS_URL` is set. Unset,
clients are limited only by the policy's model caps.
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.settings import Settings

LIMITED_PREFIXES = ("/route/", "/v1/")


def limit_clients(app: Flask, settings: Settings) -> Limiter | None:
    """Bind a Limiter to `app` when a client limit is configured."""
    if not settings.client_rate_limit:
        return None
    return Limiter(
        get_remote_address,
        app=app,
        default_limits=[settings.client_rate_limit],
        default_limits_exempt_when=lambda: not request.path.startswith(LIMITED_PREFIXES),
        storage_uri=settings.redis_url or "memory://",
        headers_enabled=True,
        key_prefix="symphony-client",
    )
