"""The one place that wires real adapters from settings."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.adapters import http1
from app.adapters.gateway import HttpGateway
from app.adapters.opa import OpaPolicyEngine
from app.adapters.opa_batch import RevisionEvaluator
from app.adapters.opa_check import OpaCompiler, read_router_modules
from app.adapters.sql.controls import SqlControls
from app.adapters.sql.database import database_url, exclusive, migrate, open_engine
from app.adapters.sql.identity import SqlAuditLog, SqlKeyStore
from app.adapters.sql.jobs import SqlJobs
from app.adapters.sql.records import SqlDecisionRecords
from app.adapters.sql.revisions import SqlRevisionStore
from app.adapters.sql.run_reports import SqlRunReports
from app.adapters.sql.shadow import SqlShadow
from app.adapters.sql.sidecars import SqlSidecarStatuses
from app.core.bundles import BundleServer
from app.core.counters import CounterStore, InMemoryCounterStore
from app.core.execution import Executor
from app.core.identity import Identities, Role
from app.core.inflight import InFlight
from app.core.latency import LatencyBook
from app.core.policy_document import PolicyValidator
from app.core.policy_service import PolicyService
from app.core.policy_view import ModelSpec
from app.core.ports import Controls
from app.core.redaction import Redactor
from app.core.route_request import RouteRequestParser
from app.core.router import ModelHealth, Router
from app.core.shadow import ShadowRunner
from app.core.validation import SchemaChecker
from app.deferred_runner import DeferredRunner
from app.events import EventBus
from app.incident_worker import IncidentDesk, IncidentWorker, build_incidents
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
    completions_schema: SchemaChecker
    embeddings_schema: SchemaChecker
    gateway: HttpGateway
    reports: SqlRunReports
    sidecars: SqlSidecarStatuses
    bundles: BundleServer
    database: sa.Engine
    executor: Executor
    metrics: SymphonyMetrics
    bus: EventBus
    telemetry: LiveTelemetry
    monitor: Monitor
    identities: Identities
    audit: SqlAuditLog
    redactor: Redactor
    records: SqlDecisionRecords
    evaluator: RevisionEvaluator
    shadow: SqlShadow
    inflight: InFlight
    incidents: IncidentDesk
    incident_worker: IncidentWorker
    deferred: DeferredRunner


def _schema(folder: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return loaded


def build_counters(
    settings: Settings,
    spent_on: Callable[[str], Mapping[str, tuple[float, int]]] | None = None,
) -> CounterStore:
    """The Redis store when SYMPHONY_REDIS_URL is set (budgets rebuilt from `spent_on` when
    Redis lost them), the in-process one otherwise."""
    if settings.redis_url:
        from app.adapters.redis_counters import RedisCounterStore

        return RedisCounterStore.from_url(settings.redis_url, spent_on)
    return InMemoryCounterStore()


def upstream_for(settings: Settings) -> Any:
    """Where each model is called: local-class models on the local server when one is set."""

    def base_url(spec: ModelSpec) -> str:
        if spec.model_class == "local" and settings.local_model_url:
            return settings.local_model_url
        return settings.gateway_url

    return base_url


def opa_binary(settings: Settings) -> str:
    """The pinned opa binary, else the one on PATH (needed to compile candidate revisions)."""
    if Path(settings.opa_binary).exists():
        return settings.opa_binary
    return shutil.which("opa") or settings.opa_binary


def _write_secret(path: Path, value: str) -> None:
    """Write a key file readable by its owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)


def _ensure_key(identities: Identities, key: str, name: str, role: Role, file: Path | None) -> None:
    if not identities.registered(key):
        taken = {k.name for k in identities.all_keys() if k.revoked_at is None}
        unique = name if name not in taken else f"{name}-{secrets.token_hex(3)}"
        identities.create(unique, [str(role)], "bootstrap", None, key=key)
        if file is not None:
            log.info("registered the %s key of %s", role, file)


def _service_key(identities: Identities, configured: str | None, path: Path, role: Role) -> None:
    """A key for a service that calls the proxy (Alertmanager): the configured one, else the
    one in `path`, else a new one written there (0600)."""
    if configured:
        _ensure_key(identities, configured, str(role), role, None)
    elif path.is_file():
        _ensure_key(identities, path.read_text(encoding="utf-8").strip(), str(role), role, path)
    else:
        taken = {k.name for k in identities.all_keys() if k.revoked_at is None}
        name = str(role) if str(role) not in taken else f"{role}-{secrets.token_hex(3)}"
        _, key = identities.create(name, [str(role)], "bootstrap", None)
        _write_secret(path, key)


def bootstrap_keys(identities: Identities, settings: Settings, database: sa.Engine) -> None:
    """The first admin key and this proxy's sidecar key (one proxy at a time).

    With no key in the store, an admin key is created and written to <data>/admin.key (0600),
    unless SYMPHONY_ADMIN_KEY is set, which is then registered instead. The OPA sidecar pulls
    bundles with SYMPHONY_SIDECAR_KEY, else with <data>/sidecar.key (created on first start);
    Alertmanager posts alerts with SYMPHONY_ALERTMANAGER_KEY, else <data>/alertmanager.key.
    """
    with exclusive(database):
        if settings.admin_key:
            _ensure_key(identities, settings.admin_key, "admin", Role.ADMIN, None)
        elif not identities.has_keys():
            path = settings.data_dir / "admin.key"
            _, key = identities.create("admin", [str(Role.ADMIN)], "bootstrap", None)
            _write_secret(path, key)
            log.info("created the first admin key in %s", path)
        _service_key(
            identities,
            settings.incidents.alertmanager_key,
            settings.data_dir / "alertmanager.key",
            Role.ALERTMANAGER,
        )
        if settings.sidecar_key:
            _ensure_key(identities, settings.sidecar_key, "sidecar", Role.SIDECAR, None)
            return
        path = settings.data_dir / "sidecar.key"
        if path.is_file():
            key = path.read_text(encoding="utf-8").strip()
            _ensure_key(identities, key, "sidecar", Role.SIDECAR, path)
        else:
            taken = {k.name for k in identities.all_keys() if k.revoked_at is None}
            name = "sidecar" if "sidecar" not in taken else f"sidecar-{secrets.token_hex(3)}"
            _, key = identities.create(name, [str(Role.SIDECAR)], "bootstrap", None)
            _write_secret(path, key)


def redactor_for(settings: Settings) -> Redactor:
    """The redactor for everything that leaves the process: detectors plus this proxy's own
    secrets (the gateway, admin and sidecar keys), wherever they are echoed."""
    return Redactor(
        [
            settings.gateway_key,
            settings.admin_key,
            settings.sidecar_key,
            settings.incidents.alertmanager_key,
            settings.github.token,
            settings.jira.api_token,
            settings.callback_secret,
        ]
    )


def build_services(settings: Settings, clock: Callable[[], float] = time.time) -> Services:
    """Wire adapters, migrate the store and make sure a policy revision is active; `clock`
    is the time every decision and deferred job is planned with (a fixed one in tests)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_engine(database_url(settings.database_url, settings.data_dir))
    migrate(database)
    http1.ANSWER_WAIT.spin_s = settings.answer_spin_us / 1e6
    engine = OpaPolicyEngine(settings.opa_url, settings.opa_timeout_s)
    router_modules = read_router_modules(settings.rego_dir)
    policies = PolicyService(
        PolicyValidator(_schema(settings.schemas_dir, "policy.schema.json")),
        SqlRevisionStore(database),
        OpaCompiler(opa_binary(settings), router_modules),
    )
    policies.bootstrap(settings.policy_file, settings.data_dir / "policy")
    reports = SqlRunReports(database)
    imported = reports.import_folder(settings.data_dir / "runs")
    if imported:
        log.info("carried %d run reports over from %s", imported, settings.data_dir / "runs")
    bundles = BundleServer(
        policies.revision,
        lambda: policies.snapshot().pointer.revision,
        router_modules,
        max_waiters=settings.bundle_long_polls,
    )
    counters = build_counters(
        settings, lambda day: reports.spent_on(day, policies.current().timezone)
    )
    controls = SqlControls(database)
    controls.import_file(settings.data_dir / "controls.json")
    health = ModelHealth()
    metrics = SymphonyMetrics()
    redactor = redactor_for(settings)
    bus = EventBus(redactor.redact_value)
    latencies = LatencyBook()
    telemetry = LiveTelemetry(metrics, bus, latencies)
    evaluator = RevisionEvaluator(
        opa_binary(settings), router_modules, cache_dir=settings.data_dir / "bundle-cache"
    )
    shadow = SqlShadow(database)
    shadow_runner = ShadowRunner(
        shadow,
        lambda number, inputs: evaluator.decisions(policies.revision(number), inputs),
        metrics.shadow_disagreement,
        metrics.shadow_skipped.inc,
    )
    records = SqlDecisionRecords(database, on_written=shadow_runner)
    router = Router(
        engine,
        counters,
        policies,
        controls,
        health,
        clock=clock,
        grace_s=settings.revision_grace_s,
        on_refused=telemetry.refused,
        on_decided=records.add,
    )
    gateway = HttpGateway(
        settings.gateway_key, settings.gateway_connect_timeout_s, settings.gateway_read_timeout_s
    )
    inflight = InFlight(settings.max_concurrent_per_model)
    executor = Executor(
        router,
        counters,
        gateway,
        upstream_for(settings),
        reports,
        telemetry,
        max_attempts=settings.max_attempts,
        redact=redactor.redact,
        content=settings.store_content,
        inflight=inflight,
    )
    sidecars = SqlSidecarStatuses(database)
    deferred = DeferredRunner(
        SqlJobs(database),
        executor,
        counters,
        metrics,
        bus,
        clock,
        holder=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}",
        workers=settings.deferred_workers,
        lease_s=settings.deferred_lease_s,
        callback_secret=settings.callback_secret,
    )
    metrics.watch_jobs(deferred.counts)
    audit = SqlAuditLog(database)
    identities = Identities(SqlKeyStore(database), audit, session_ttl_s=settings.session_ttl_s)
    bootstrap_keys(identities, settings, database)
    monitor = Monitor(
        settings,
        engine,
        gateway,
        counters,
        policies,
        health,
        latencies,
        bus,
        telemetry,
        controls,
        sidecars,
        database,
    )
    desk, worker = build_incidents(settings, database, bus, monitor, records, reports, redactor)
    return Services(
        settings=settings,
        engine=engine,
        policies=policies,
        counters=counters,
        controls=controls,
        health=health,
        router=router,
        requests=RouteRequestParser(
            _schema(settings.schemas_dir, "route-request.schema.json"), redactor.redact
        ),
        chat_schema=SchemaChecker(_schema(settings.schemas_dir, "chat-completions.schema.json")),
        completions_schema=SchemaChecker(_schema(settings.schemas_dir, "completions.schema.json")),
        embeddings_schema=SchemaChecker(_schema(settings.schemas_dir, "embeddings.schema.json")),
        gateway=gateway,
        reports=reports,
        sidecars=sidecars,
        bundles=bundles,
        database=database,
        executor=executor,
        metrics=metrics,
        bus=bus,
        telemetry=telemetry,
        monitor=monitor,
        identities=identities,
        audit=audit,
        redactor=redactor,
        records=records,
        evaluator=evaluator,
        shadow=shadow,
        inflight=inflight,
        deferred=deferred,
        incidents=desk,
        incident_worker=worker,
    )
