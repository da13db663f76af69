"""Prometheus metrics: HTTP metrics by route template plus Symphony's own series.

One gunicorn worker (gevent) serves a proxy, so one in-process registry is exact; Prometheus
multiprocess mode is not needed (see the README).

Series counted on every request are counted through `Children`: the labelled child of a
metric looked up once per label set, a dict read instead of prometheus_client's `labels()`
(argument checks and a lock, every time). The HTTP series are prometheus-flask-exporter's
defaults (`flask_http_request_duration_seconds{method,path,status}`,
`flask_http_request_total{method,status}`, `flask_http_request_exceptions_total{method,status}`,
`flask_exporter_info`), with the same names, labels, buckets and rules (a request is counted
once; paths of /metrics, /assets/ and /opa/ are not), counted by `RequestMetrics` the same way:
the exporter's own hooks cost ~30 µs a request here (attribute probes through Flask's request
proxy, three regular expressions, two `labels()` calls), `RequestMetrics` ~12. The exporter
still serves /metrics and its info series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any, Generic, TypeVar

from flask import Flask, Request, Response, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector
from prometheus_flask_exporter import PrometheusMetrics

from app.core.bundles import SidecarStatus
from app.core.deferred import EXPIRY_REASONS
from app.core.model_status import ModelStatus
from app.core.revisions import revision_number

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
EVAL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
# Paths whose requests are not HTTP metrics: the scrape itself, static assets, and the
# sidecars' bundle long polls (held for seconds by design: not request latency).
UNTRACKED_PREFIXES = ("/assets/", "/opa/")
UNTRACKED_PATHS = frozenset({"/metrics"})

M = TypeVar("M", bound=MetricWrapperBase)
_STARTED = "symphony.request_metrics.started"
_COUNTED = "symphony.request_metrics.counted"


class Children(Generic[M]):
    """The labelled children of `metric`, each looked up from prometheus_client once.

    Label values come from the policy's model names, reason codes and route templates, a
    bounded set; past `limit` distinct label sets the memo starts over (the series stay in
    the metric)."""

    def __init__(self, metric: M, limit: int = 4096) -> None:
        self._metric = metric
        self._limit = limit
        self._memo: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._memo.get(values)
        if child is None:
            if len(self._memo) >= self._limit:
                self._memo.clear()
            child = self._memo[values] = self._metric.labels(*values)
        return child


class RequestMetrics:
    """prometheus-flask-exporter's default HTTP series (names, labels, buckets and counting
    rules as its `export_defaults` with `group_by=path`), counted through `Children`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._duration = Children(
            Histogram(
                "flask_http_request_duration_seconds",
                "Flask HTTP request duration in seconds",
                ("method", "path", "status"),
                registry=registry,
            )
        )
        self._total = Children(
            Counter(
                "flask_http_request_total",
                "Total number of HTTP requests",
                ("method", "status"),
                registry=registry,
            )
        )
        self._exceptions = Children(
            Counter(
                "flask_http_request_exceptions_total",
                "Total number of HTTP requests which resulted in an exception",
                ("method", "status"),
                registry=registry,
            )
        )

    def init_app(self, app: Flask) -> None:
        """Count every request; timed from this before-request hook (registered where the
        exporter registered its own) to the after-request hooks."""
        app.before_request(self._start)
        app.after_request(self._answered)
        app.teardown_request(self._ended)

    @staticmethod
    def _tracked(path: str) -> bool:
        return path not in UNTRACKED_PATHS and not path.startswith(UNTRACKED_PREFIXES)

    @staticmethod
    def _start() -> None:
        # On the request's environ rather than `g`: an application context (and its `g`)
        # can outlive one request, a request's environ cannot.
        request.environ[_STARTED] = perf_counter()

    def _answered(self, response: Response) -> Response:
        if self._tracked(request.path):
            self._count(request.environ, str(response.status_code))
        return response

    def _ended(self, exc: BaseException | None) -> None:
        if exc is None or not self._tracked(request.path):
            return
        environ = request.environ
        self._exceptions(request.method, "500").inc()
        if not environ.get(_COUNTED):
            self._count(environ, "500")

    def _count(self, environ: dict[str, Any], status: str) -> None:
        """The request's total, and its duration when `_start` ran (not when an earlier
        before-request hook answered); once per request."""
        method = request.method
        start = environ.pop(_STARTED, None)
        if start is not None:
            self._duration(method, path(request), status).observe(max(perf_counter() - start, 0.0))
        self._total(method, status).inc()
        environ[_COUNTED] = True


class _LiveCollector(Collector):
    """Reads counters and engine health at scrape time, so gauges are never stale."""

    def __init__(
        self, models: Callable[[], list[ModelStatus]], engine_up: Callable[[], bool]
    ) -> None:
        self._models = models
        self._engine_up = engine_up

    def collect(self) -> Iterable[GaugeMetricFamily]:
        def family(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=["model"])

        up = GaugeMetricFamily("symphony_policy_engine_up", "1 when the OPA sidecar answers")
        up.add_metric([], 1.0 if self._engine_up() else 0.0)
        yield up
        fams = {
            "budget": family(
                "symphony_model_budget_fraction_used", "Fraction of the daily USD cap spent"
            ),
            "usd": family("symphony_model_usd_today", "USD spent today (policy time zone)"),
            "cap": family("symphony_model_daily_usd_cap", "Daily USD cap"),
            "rpm": family("symphony_model_rpm", "Requests in the trailing 60 s"),
            "rpm_cap": family("symphony_model_rpm_cap", "Requests-per-minute cap"),
            "tpm": family("symphony_model_tpm", "Tokens in the trailing 60 s"),
            "tpm_cap": family("symphony_model_tpm_cap", "Tokens-per-minute cap"),
            "window": family("symphony_model_window_open", "1 when a usage window is open"),
            "cool": family("symphony_model_cooling_down", "1 while the model cools down"),
        }
        for m in self._models():
            fams["budget"].add_metric([m.model], m.budget_fraction)
            fams["usd"].add_metric([m.model], m.usd_today)
            if m.daily_usd_cap is not None:
                fams["cap"].add_metric([m.model], m.daily_usd_cap)
            fams["rpm"].add_metric([m.model], m.rpm)
            fams["rpm_cap"].add_metric([m.model], m.rpm_cap)
            fams["tpm"].add_metric([m.model], m.tpm)
            fams["tpm_cap"].add_metric([m.model], m.tpm_cap)
            fams["window"].add_metric([m.model], 1.0 if m.window.open else 0.0)
            fams["cool"].add_metric([m.model], 1.0 if m.cooling_down else 0.0)
        yield from fams.values()


class _PolicyCollector(Collector):
    """The store's active revision and what every sidecar last reported, at scrape time."""

    def __init__(self, policy: Callable[[], tuple[int, str, list[SidecarStatus]]]) -> None:
        self._policy = policy

    def collect(self) -> Iterable[GaugeMetricFamily]:
        active, active_bundle, sidecars = self._policy()
        gauge = GaugeMetricFamily(
            "symphony_policy_active_revision", "The active policy revision in the shared store"
        )
        gauge.add_metric([], float(active))
        yield gauge
        revision = GaugeMetricFamily(
            "symphony_opa_bundle_revision",
            "Policy revision each OPA sidecar last reported active (0: none)",
            labels=["sidecar"],
        )
        in_step = GaugeMetricFamily(
            "symphony_opa_bundle_in_step",
            "1 when the sidecar's active bundle is the store's active revision",
            labels=["sidecar"],
        )
        errors = GaugeMetricFamily(
            "symphony_opa_bundle_errors",
            "Bundle errors in the sidecar's last status report",
            labels=["sidecar"],
        )
        for sidecar in sidecars:
            number = revision_number(sidecar.bundle_revision) or 0
            revision.add_metric([sidecar.name], float(number))
            in_step.add_metric(
                [sidecar.name], 1.0 if sidecar.bundle_revision == active_bundle else 0.0
            )
            errors.add_metric([sidecar.name], float(len(sidecar.bundle_errors)))
        yield revision
        yield in_step
        yield errors


class _JobsCollector(Collector):
    """Deferred jobs by state, read from the store at scrape time."""

    STATES = ("queued", "running", "done", "failed", "expired", "cancelled")

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "symphony_jobs", "Deferred jobs by state (the whole store)", labels=["state"]
        )
        counts = self._counts()
        for state in self.STATES:
            gauge.add_metric([state], float(counts.get(state, 0)))
        yield gauge


def path(req: Request) -> str:
    """The route template of the current request (`/runs/<audit_id>`), never the raw path.

    prometheus-flask-exporter names the label after this function: `path`.
    """
    rule = req.url_rule
    return rule.rule if rule is not None else "<unmatched>"


class SymphonyMetrics:
    """Every metric Symphony exports, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.execute_latency = Histogram(
            "symphony_route_execute_latency_seconds",
            "Latency of /route/execute and /v1/chat/completions, end to end",
            ["model", "stream", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "symphony_route_decisions_total",
            "Routing decisions by outcome, denial reason and chosen model",
            ["outcome", "reason", "model"],
            registry=r,
        )
        self.policy_eval = Histogram(
            "symphony_policy_eval_seconds",
            "Time to get a decision from the policy engine",
            buckets=EVAL_BUCKETS,
            registry=r,
        )
        self.ttfb = Histogram(
            "symphony_gateway_ttfb_seconds",
            "Time to the first byte of the upstream answer",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "symphony_gateway_attempts_total",
            "Upstream attempts by model and result",
            ["model", "result"],
            registry=r,
        )
        self.fallbacks = Counter(
            "symphony_route_fallbacks_total",
            "Executions served by a model other than the first one tried",
            ["model"],
            registry=r,
        )
        self.revision_mismatches = Counter(
            "symphony_policy_revision_mismatch_total",
            "Decisions refused because the sidecar evaluated an older policy revision",
            registry=r,
        )
        self.auth_failures = Counter(
            "symphony_auth_failures_total",
            "Requests refused by access control, by reason (missing, unknown, revoked, "
            "expired, forbidden, csrf, origin, rate_limited)",
            ["reason"],
            registry=r,
        )
        self.replay_mismatches = Counter(
            "symphony_replay_mismatches_total",
            "Replayed decisions that differ from the recorded one (a bug: replay must agree)",
            registry=r,
        )
        self.shadow_disagreements = Counter(
            "symphony_shadow_disagreements_total",
            "Live decisions the shadow revision would have decided otherwise, by rule and kind",
            ["rule", "kind"],
            registry=r,
        )
        self.shadow_skipped = Counter(
            "symphony_shadow_skipped_total",
            "Live decisions not evaluated under the shadow revision (bounded work per batch)",
            registry=r,
        )
        self.job_wait = Histogram(
            "symphony_job_wait_seconds",
            "Deferred jobs: wait until the job started, since it was created or planned",
            ["since"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400, 259200),
            registry=r,
        )
        self.jobs_expired = Counter(
            "symphony_jobs_expired_total",
            "Deferred jobs that reached their deadline unserved, by the last refusal's reason",
            ["reason"],
            registry=r,
        )
        for reason in sorted(EXPIRY_REASONS):  # exported as 0 from the start, so alerts have data
            self.jobs_expired.labels(reason)
        # Counted on every routed request (module docstring).
        self._decisions = Children(self.decisions)
        self._attempts = Children(self.attempts)
        self._ttfb = Children(self.ttfb)
        self._execute_latency = Children(self.execute_latency)
        self._fallbacks = Children(self.fallbacks)
        self._exporter: PrometheusMetrics | None = None

    def bind(
        self,
        app: Flask,
        models: Callable[[], list[ModelStatus]],
        engine_up: Callable[[], bool],
        policy: Callable[[], tuple[int, str, list[SidecarStatus]]],
    ) -> None:
        """Attach the HTTP metrics and /metrics to `app`, and the scrape-time gauges."""
        self.registry.register(_LiveCollector(models, engine_up))
        self.registry.register(_PolicyCollector(policy))
        # The exporter serves /metrics; the per-request series are RequestMetrics' (same
        # names and rules, module docstring), hooked in where the exporter's hooks were.
        self._exporter = PrometheusMetrics(
            app, registry=self.registry, default_labels={}, export_defaults=False
        )
        self._exporter.info(
            "flask_exporter_info",
            "Information about the Prometheus Flask exporter",
            version=self._exporter.version,
        )
        RequestMetrics(self.registry).init_app(app)

    def watch_jobs(self, counts: Callable[[], dict[str, int]]) -> None:
        """Export `symphony_jobs{state}` from the store at scrape time (fleet-wide counts)."""
        self.registry.register(_JobsCollector(counts))

    def job_started(self, since_created_s: float, since_planned_s: float) -> None:
        """Observe how long a deferred job waited before it started."""
        self.job_wait.labels("created").observe(max(0.0, since_created_s))
        self.job_wait.labels("planned").observe(max(0.0, since_planned_s))

    def job_expired(self, reason: str) -> None:
        """Count one deferred job that expired (an unknown reason counts as `deadline`)."""
        self.jobs_expired.labels(reason if reason in EXPIRY_REASONS else "deadline").inc()

    def auth_failed(self, reason: str) -> None:
        """Count one request refused by access control."""
        self.auth_failures.labels(reason).inc()

    def replay_mismatch(self) -> None:
        """Count one replay that disagreed with its record."""
        self.replay_mismatches.inc()

    def shadow_disagreement(self, rule: str, kind: str) -> None:
        """Count one decision the shadow revision would have made otherwise."""
        self.shadow_disagreements.labels(rule, kind).inc()

    def revision_mismatch(self) -> None:
        """Count one decision refused for an older policy revision."""
        self.revision_mismatches.inc()

    def observe_decision(self, allow: bool, denial: str | None, model: str | None) -> None:
        """Count one decision (label values come from the policy and reason codes only)."""
        self._decisions("allowed" if allow else "denied", denial or "none", model or "none").inc()

    def attempt(self, model: str, result: str) -> None:
        """Count one upstream attempt."""
        self._attempts(model, result).inc()

    def observe_ttfb(self, model: str, seconds: float) -> None:
        """Observe the time to an upstream answer's first byte."""
        self._ttfb(model).observe(seconds)

    def observe_execution(self, model: str, stream: str, status: str, seconds: float) -> None:
        """Observe one execution's end-to-end latency."""
        self._execute_latency(model, stream, status).observe(seconds)

    def fallback(self, model: str) -> None:
        """Count one execution served by a fallback model."""
        self._fallbacks(model).inc()
