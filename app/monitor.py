"""Live views of the system: model rows, health probes, burndown, and the periodic tick."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from app.adapters.gateway import HttpGateway
from app.adapters.opa import OpaPolicyEngine
from app.adapters.sql.database import probe as probe_store
from app.adapters.sql.sidecars import SqlSidecarStatuses
from app.core.bundles import SidecarStatus
from app.core.burndown import burndown
from app.core.counters import CounterStore, budget_day
from app.core.latency import LatencyBook
from app.core.model_status import ModelStatus, WindowState, model_statuses
from app.core.policy_service import PolicyService
from app.core.ports import Controls, PolicyEngineUnavailable, Probe
from app.core.router import ModelHealth
from app.events import EventBus
from app.settings import Settings
from app.telemetry import LiveTelemetry, now_iso

BUDGET_WARNING = 0.8
BUDGET_CRITICAL = 0.95


class Monitor:
    """Computes what operators see; `tick()` publishes it on the websocket."""

    def __init__(
        self,
        settings: Settings,
        engine: OpaPolicyEngine,
        gateway: HttpGateway,
        counters: CounterStore,
        policies: PolicyService,
        health: ModelHealth,
        latencies: LatencyBook,
        bus: EventBus,
        telemetry: LiveTelemetry,
        controls: Controls,
        sidecars: SqlSidecarStatuses,
        database: sa.Engine,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._gateway = gateway
        self._counters = counters
        self._policies = policies
        self._health = health
        self._latencies = latencies
        self._bus = bus
        self._telemetry = telemetry
        self._controls = controls
        self._sidecars = sidecars
        self._database = database
        self._engine_up = True

    def _windows(self, now: float) -> dict[str, WindowState]:
        try:
            windows = self._engine.model_windows(int(now * 1_000_000_000))
            self._engine_up = True
            return windows
        except PolicyEngineUnavailable:
            self._engine_up = False
            return {
                name: WindowState(False, "unknown: the policy engine is down")
                for name in self._policies.current().models
            }

    def statuses(self) -> list[ModelStatus]:
        """Every model's live row."""
        policy = self._policies.current()
        now = time.time()
        usage = self._counters.usage(policy.models, now, budget_day(now, policy.timezone))
        return model_statuses(
            policy, usage, self._windows(now), self._latencies, self._health.unhealthy, now
        )

    def engine_up(self) -> bool:
        """Whether OPA answered its last health probe."""
        return self._engine.probe().ok

    def burndown(self) -> dict[str, Any]:
        """The /status/burndown.json document."""
        policy = self._policies.current()
        now = time.time()
        usage = self._counters.usage(policy.models, now, budget_day(now, policy.timezone))
        return burndown(policy, usage, self._counters.spend, now)

    def policy_state(self) -> tuple[int, str, list[SidecarStatus]]:
        """The active revision (number and bundle revision) and every sidecar's last report."""
        snapshot = self._policies.snapshot()
        return snapshot.pointer.revision, snapshot.view.bundle_revision, self._sidecars.all()

    def policy_health(self) -> dict[str, Any]:
        """The active revision, this proxy's sidecar and every sidecar that reported."""
        snapshot = self._policies.snapshot()
        active = snapshot.view.bundle_revision
        local = self._engine.bundle_revision()
        return {
            "active_revision": snapshot.pointer.revision,
            "active_bundle_revision": active,
            "activated_at": snapshot.pointer.activated_at.isoformat(timespec="milliseconds"),
            "local_sidecar": {"bundle_revision": local, "in_step": local == active},
            "sidecars": [
                {**s.as_dict(), "in_step": s.bundle_revision == active}
                for s in self._sidecars.all()
            ],
        }

    def probes(self) -> dict[str, Probe]:
        """Real probes of OPA, the gateway, the local model server and the counter store."""
        checks = {
            "opa": self._engine.probe(),
            "gateway": self._gateway.probe(self._settings.gateway_url),
            "counters": self._counters.probe(),
            "store": probe_store(self._database),
        }
        local = self._settings.local_model_url
        if local:
            checks["local_model"] = self._gateway.probe(local)
        else:
            checks["local_model"] = Probe(
                "local_model", False, 0.0, "SYMPHONY_LOCAL_MODEL_URL not set", configured=False
            )
        self._note_local_health(checks["local_model"])
        return checks

    def _note_local_health(self, probe: Probe) -> None:
        # Only the local server's probe gates models: a hosted provider behind the gateway can
        # fail while others work, and per-model failures are handled by cooldowns instead.
        if not probe.configured:
            return
        local_models = {
            name
            for name, spec in self._policies.current().models.items()
            if spec.model_class == "local"
        }
        self._health.unhealthy = frozenset() if probe.ok else frozenset(local_models)

    def health(self) -> tuple[dict[str, Any], int]:
        """The /status/health.json document and its HTTP status."""
        checks = self.probes()
        settings = self._settings
        if not checks["opa"].ok or not checks["counters"].ok or not checks["store"].ok:
            overall = "down"
        elif any(not p.ok for p in checks.values() if p.configured):
            overall = "degraded"
        else:
            overall = "ok"
        body = {
            "status": overall,
            "version": settings.version,
            "generated_at": now_iso(),
            "checks": {name: probe.as_dict() for name, probe in checks.items()},
            "policy_version": self._policies.current().revision,
            "policy": self.policy_health(),
            "store": {"kind": self._database.dialect.name},
            "counters": {
                "store": "redis" if settings.redis_url else "memory",
                "persistent": self._counters.persistent,
            },
            "integrations": {
                "github": settings.github.enabled,
                "jira": settings.jira.enabled,
                "redis": settings.redis_url is not None,
                "local_model": settings.local_model_url is not None,
            },
            "websocket_clients": self._bus.client_count,
        }
        return body, 503 if overall == "down" else 200

    def hello(self) -> dict[str, Any]:
        """The first websocket message a client gets."""
        return {
            "type": "hello",
            "version": self._settings.version,
            "policy_version": self._policies.current().revision,
            "kill_switch": self._controls.kill_switch(),
        }

    def tick(self) -> None:
        """Publish `model_stats` and raise budget / engine alerts."""
        rows = self.statuses()
        self._bus.publish(
            {"type": "model_stats", "at": now_iso(), "models": [r.as_event() for r in rows]}
        )
        if not self._engine_up:
            self._telemetry.alert(
                "critical", "PolicyEngineDown", None, "OPA is not answering: routing fails closed"
            )
        for row in rows:
            fraction = row.budget_fraction
            if fraction >= BUDGET_CRITICAL:
                self._telemetry.alert(
                    "critical", "BudgetCritical", row.model, f"{row.model} at {fraction:.0%}"
                )
            elif fraction >= BUDGET_WARNING:
                self._telemetry.alert(
                    "warning", "BudgetExhaustion", row.model, f"{row.model} at {fraction:.0%}"
                )
            if row.cooling_down:
                self._telemetry.alert(
                    "warning", "ModelCoolingDown", row.model, f"{row.model} is cooling down"
                )
