"""Live views of the system: model rows, health probes, burndown, and the periodic tick."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.adapters.gateway import HttpGateway
from app.adapters.opa import OpaPolicyEngine
from app.adapters.sql.database import probe as probe_store
from app.adapters.sql.sidecars import SqlSidecarStatuses
from app.core.bundles import SidecarStatus
from app.core.burndown import burndown
from app.core.counters import CounterStore, CounterStoreUnavailable, budget_day
from app.core.latency import LatencyBook
from app.core.model_status import ModelStatus, WindowState, model_statuses
from app.core.policy_service import PolicyService
from app.core.policy_view import ModelSpec
from app.core.ports import Controls, PolicyEngineUnavailable, Probe
from app.core.router import ModelHealth
from app.events import EventBus
from app.settings import Settings
from app.telemetry import LiveTelemetry, now_iso

log = logging.getLogger("symphony.monitor")

BUDGET_WARNING = 0.8
BUDGET_CRITICAL = 0.95
# How long one round of upstream probes may take: the first round runs before the proxy
# serves, so an upstream that hangs must not hold the start up (HttpGateway.probe alone may
# wait 1 s to connect and 2 s to read).
UPSTREAM_PROBE_BUDGET_S = 2.0
DEFAULT_GATEWAY_URL = Settings().gateway_url


@dataclass(frozen=True)
class ModelUpstream:
    """Where one model is called and what the last probe of that upstream said."""

    model: str
    upstream: str  # `gateway` or `local_model`
    healthy: bool
    reason: str | None  # None, `unconfigured` or `unreachable`

    def as_dict(self) -> dict[str, Any]:
        """JSON form (health.json lists one per model)."""
        return {
            "model": self.model,
            "upstream": self.upstream,
            "healthy": self.healthy,
            "reason": self.reason,
        }


def model_upstreams(
    models: Mapping[str, ModelSpec], local_model_url: str | None, probes: Mapping[str, Probe]
) -> list[ModelUpstream]:
    """Each model's upstream and its verdict, from the probes of `gateway` and `local_model`."""
    rows = []
    for name, spec in models.items():
        # The rule of app.bootstrap.upstream_for: local-class models go to the local model
        # server when one is set, everything else through the gateway.
        upstream = "local_model" if spec.model_class == "local" and local_model_url else "gateway"
        probe = probes[upstream]
        reason = None if probe.ok else ("unreachable" if probe.configured else "unconfigured")
        rows.append(ModelUpstream(name, upstream, probe.ok, reason))
    return rows


def gateway_verdict(probe: Probe, url: str) -> Probe:
    """The gateway's probe, `configured=False` when nobody set SYMPHONY_GATEWAY_URL and
    nothing answers at the default address (an optional gateway that is absent, not down)."""
    if probe.ok or url != DEFAULT_GATEWAY_URL:
        return probe
    detail = f"SYMPHONY_GATEWAY_URL not set; nothing answers at {url} ({probe.detail})"
    return dataclasses.replace(probe, detail=detail, configured=False)


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
        self._upstreams: list[ModelUpstream] = []

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
        """Every model's live row (none while the counter store is down: /metrics and the
        dashboard keep answering, health says the store is down)."""
        policy = self._policies.current()
        now = time.time()
        try:
            usage = self._counters.usage(policy.models, now, budget_day(now, policy.timezone))
        except CounterStoreUnavailable:
            return []
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
        """Real probes of OPA, the counter store, the SQL store and every model's upstream
        (the gateway, the local model server); model health is refreshed on the way."""
        checks = {
            "opa": self._engine.probe(),
            "counters": self._counters.probe(),
            "store": probe_store(self._database),
        }
        checks.update(self.refresh_model_health())
        return checks

    def _probe_upstreams(self) -> dict[str, Probe]:
        """The gateway and the local model server, probed in parallel within the budget."""
        targets = {"gateway": self._settings.gateway_url}
        if self._settings.local_model_url:
            targets["local_model"] = self._settings.local_model_url
        pool = ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="upstream-probe")
        try:
            futures = {name: pool.submit(self._gateway.probe, url) for name, url in targets.items()}
            wait(futures.values(), timeout=UPSTREAM_PROBE_BUDGET_S)
        finally:
            pool.shutdown(wait=False)
        probes: dict[str, Probe] = {}
        for name, future in futures.items():
            if not future.done():
                budget = UPSTREAM_PROBE_BUDGET_S
                probes[name] = Probe(name, False, budget * 1000, f"no answer within {budget:g} s")
            elif (error := future.exception()) is not None:
                probes[name] = Probe(name, False, 0.0, type(error).__name__)
            else:
                probes[name] = dataclasses.replace(future.result(), name=name)
        probes["gateway"] = gateway_verdict(probes["gateway"], self._settings.gateway_url)
        if "local_model" not in probes:
            probes["local_model"] = Probe(
                "local_model", False, 0.0, "SYMPHONY_LOCAL_MODEL_URL not set", configured=False
            )
        return probes

    def refresh_model_health(self) -> dict[str, Probe]:
        """Probe every model's upstream; mark the models behind a failed one unhealthy (OPA
        then skips them with `unhealthy`) and those behind a recovered one healthy again."""
        # The probe asks each upstream whether it answers at all: a gateway that does not
        # takes every model behind it out. One provider failing behind a gateway that answers
        # is left to the cooldowns of the calls that fail.
        probes = self._probe_upstreams()
        rows = model_upstreams(
            self._policies.current().models, self._settings.local_model_url, probes
        )
        reasons = {row.model: row.reason for row in rows if row.reason is not None}
        if reasons != self._health.reasons:
            listed = ", ".join(f"{m} ({r})" for m, r in sorted(reasons.items())) or "none"
            log.info("models with an unhealthy upstream: %s", listed)
        self._health.mark(reasons)
        self._upstreams = rows
        return probes

    def health(self) -> tuple[dict[str, Any], int]:
        """The /status/health.json document and its HTTP status.

        `down` (503) when routing is impossible: OPA, the counter store or the SQL store is
        down. `degraded` when decisions work but no model's upstream answers. `ok` otherwise,
        even when an optional upstream is absent or down: `models` says which models are
        skipped and why, `unconfigured` names those nobody set an upstream up for.
        """
        checks = self.probes()
        settings = self._settings
        rows = self._upstreams
        if not checks["opa"].ok or not checks["counters"].ok or not checks["store"].ok:
            overall = "down"
        elif rows and not any(row.healthy for row in rows):
            overall = "degraded"
        else:
            overall = "ok"
        body = {
            "status": overall,
            "version": settings.version,
            "generated_at": now_iso(),
            "checks": {name: probe.as_dict() for name, probe in checks.items()},
            "models": [row.as_dict() for row in rows],
            "unconfigured": [row.model for row in rows if row.reason == "unconfigured"],
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
