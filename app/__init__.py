"""Symphony: a policy-as-code router for LLM traffic."""

from __future__ import annotations

import atexit
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.settings import Settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment unless a test passes its own."""
    from app import (  # noqa: F401  (each registers its jobs)
        deferred_schedule,
        thresholds,
    )
    from app.api import (
        alerts,
        bundles,
        dashboard,
        decisions,
        execute,
        identity,
        jobs,
        openai_compat,
        plan,
        policy,
        runs,
        status,
        whatif,
    )
    from app.api.access import AccessControl, check_route_roles, declare
    from app.api.client_limits import limit_clients
    from app.api.errors import register_error_handlers
    from app.api.json_provider import FastJSONProvider
    from app.bootstrap import build_services, redactor_for
    from app.core.identity import Role
    from app.events import register_events
    from app.jobs import start_jobs
    from app.logs import configure_logging, env_line_max

    app = Flask(__name__, static_folder=None)
    app.json = FastJSONProvider(app)
    config = dict(test_config or {})
    settings = config.pop("SETTINGS", None) or Settings.from_env(os.environ)
    # A test may fix the clock decisions and deferred jobs are planned with.
    clock = config.pop("CLOCK", None)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.config.update(config)
    # One logging configuration: JSON lines, capped, redacted (before anything logs).
    configure_logging(line_max=env_line_max(os.environ), redact=redactor_for(settings).redact)
    services = build_services(settings, clock) if clock else build_services(settings)
    app.extensions["symphony"] = services
    register_error_handlers(app)
    access = AccessControl(services.identities, settings, services.metrics)
    app.extensions["symphony.access"] = access
    access.init_app(app)
    blueprints = (
        plan,
        execute,
        openai_compat,
        policy,
        whatif,
        decisions,
        bundles,
        runs,
        status,
        dashboard,
        identity,
        jobs,
        alerts,
    )
    for module in blueprints:
        app.register_blueprint(module.bp)
    services.metrics.bind(
        app, services.monitor.statuses, services.monitor.engine_up, services.monitor.policy_state
    )
    # Prometheus scrapes without a key: the exposition holds counts and gauges only, no
    # prompts, keys or identities (see docs/api.md, "Access control").
    declare(app, "prometheus_metrics", Role.PUBLIC)
    limit_clients(app, settings)
    register_events(
        app,
        services.bus,
        services.monitor.hello,
        settings.max_websockets,
        settings.max_websockets_per_client,
    )
    check_route_roles(app)
    if settings.background_jobs:
        scheduler = start_jobs(services)
        atexit.register(scheduler.shutdown, wait=False)
        if settings.incidents.worker:
            services.incident_worker.start()
            atexit.register(services.incident_worker.stop, 1.0)
    return app
