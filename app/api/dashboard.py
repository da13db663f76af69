"""The operator dashboard (web/dist) served at `/` under a strict Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, request, send_from_directory
from flask.typing import ResponseReturnValue

from app.api.access import requires
from app.api.context import services
from app.core.identity import Role

bp = Blueprint("dashboard", __name__)


def content_security_policy(host: str) -> str:
    """Self only; the websocket back to this host; no inline scripts; never framed."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # MUI (emotion) and Mermaid's SVGs inject <style> elements; scripts stay self-only.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _dist() -> Path:
    return services().settings.web_dist


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(request.host)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.get("/")
@requires(Role.PUBLIC)
def index() -> ResponseReturnValue:
    """The single-page dashboard."""
    dist = _dist()
    if not (dist / "index.html").is_file():
        abort(404, description="dashboard not built: run `just setup` (npm ci && npm run build)")
    response = send_from_directory(dist, "index.html", max_age=0)
    return _secure(response)


@bp.get("/assets/<path:name>")
@requires(Role.PUBLIC)
def assets(name: str) -> ResponseReturnValue:
    """Hashed build assets."""
    response = send_from_directory(_dist() / "assets", name, max_age=31_536_000)
    return _secure(response)
