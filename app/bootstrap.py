"""The one place that wires real adapters from settings."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.adapters.controls import FileControls
from app.adapters.gateway import HttpGateway
from app.adapters.opa import OpaPolicyEngine
from app.adapters.policy_store import FilePolicyStore
from app.adapters.run_reports import FileRunReports
from app.core.counters import CounterStore, InMemoryCounterStore
from app.core.execution import Executor
from app.core.latency import LatencyBook
from app.core.policy_document import PolicyValidator
from app.core.policy_service import PolicyService
from app.core.policy_view import ModelSpec
from app.core.ports import Controls, PolicyEngineUnavailable
from app.core.route_request import RouteRequestParser
from app.core.router import ModelHealth, Router
from app.core.validation import SchemaChecker
from app.events import EventBus
from app.metrics import SymphonyMetrics
from app.monitor import Monitor
from app.settings import Settings
from app.telemetry import LiveTelemetry

log = logging.getLogger("symphony")


@dataclass
class Services:
    """Everything the HTTP layer talks to."""

    settings: Settings
    engine: OpaPolicyEngine
    policies: PolicyService
    counters: CounterStore
    controls: Controls
    health: ModelHealth
    router: Router
    requests: RouteRequestParser
    chat_schema: SchemaChecker
    gateway: HttpGateway
    reports: FileRunReports
    executor: Executor
    metrics: SymphonyMetrics
    bus: EventBus
    telemetry: LiveTelemetry
    monitor: Monitor


def _schema(folder: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return loaded


def build_counters(settings: Settings) -> CounterStore:
    """The Redis store when SYMPHONY_REDIS_URL is set, the in-process one otherwise."""
    if settings.redis_url:
        from app.adapters.redis_counters import RedisCounterStore

        return RedisCounterStore.from_url(settings.redis_url)
    return InMemoryCounterStore()


def build_controls(settings: Settings) -> Controls:
    """Kill switch in Redis when proxies share one, on disk otherwise (both survive restarts)."""
    if settings.redis_url:
        from app.adapters.redis_controls import RedisControls

        return RedisControls.from_url(settings.redis_url)
    return FileControls(settings.data_dir / "controls.json")


def upstream_for(settings: Settings) -> Any:
    """Where each model is called: local-class models on the local server when one is set."""

    def base_url(spec: ModelSpec) -> str:
        if spec.model_class == "local" and settings.local_model_url:
            return settings.local_model_url
        return settings.gateway_url

    return base_url


def build_services(settings: Settings) -> Services:
    """Wire adapters, load the stored policy and push it to OPA (if OPA is up yet)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = OpaPolicyEngine(settings.opa_url, settings.opa_timeout_s)
    policies = PolicyService(
        PolicyValidator(_schema(settings.schemas_dir, "policy.schema.json")),
        FilePolicyStore(settings.data_dir / "policy"),
        engine,
    )
    policies.bootstrap(settings.policy_file)
    try:
        policies.push()
    except PolicyEngineUnavailable as exc:
        log.warning("policy not pushed at start (%s); it is pushed on first use", exc)
    counters = build_counters(settings)
    controls = build_controls(settings)
    health = ModelHealth()
    router = Router(engine, counters, policies, controls, health)
    gateway = HttpGateway(
        settings.gateway_key, settings.gateway_connect_timeout_s, settings.gateway_read_timeout_s
    )
    reports = FileRunReports(settings.data_dir / "runs")
    metrics = SymphonyMetrics()
    bus = EventBus()
    latencies = LatencyBook()
    telemetry = LiveTelemetry(metrics, bus, latencies)
    executor = Executor(
        router,
        counters,
        gateway,
        upstream_for(settings),
        reports,
        telemetry,
        max_attempts=settings.max_attempts,
    )
    monitor = Monitor(
        settings, engine, gateway, counters, policies, health, latencies, bus, telemetry, controls
    )
    return Services(
        settings=settings,
        engine=engine,
        policies=policies,
        counters=counters,
        controls=controls,
        health=health,
        router=router,
        requests=RouteRequestParser(_schema(settings.schemas_dir, "route-request.schema.json")),
        chat_schema=SchemaChecker(_schema(settings.schemas_dir, "chat-completions.schema.json")),
        gateway=gateway,
        reports=reports,
        executor=executor,
        metrics=metrics,
        bus=bus,
        telemetry=telemetry,
        monitor=monitor,
    )
