"""Symphony: a policy-as-code router for LLM traffic."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.settings import Settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment unless a test passes its own."""
    from app.api import dashboard, plan, policy
    from app.api.errors import register_error_handlers
    from app.bootstrap import build_services

    app = Flask(__name__, static_folder=None)
    config = dict(test_config or {})
    settings = config.pop("SETTINGS", None) or Settings.from_env(os.environ)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.config.update(config)
    app.extensions["symphony"] = build_services(settings)
    register_error_handlers(app)
    app.register_blueprint(plan.bp)
    app.register_blueprint(policy.bp)
    app.register_blueprint(dashboard.bp)
    return app
