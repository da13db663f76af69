"""The metrics contract: every series the proxy and OPA export that rules and panels may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

EXPIRY_REASONS = frozenset(
    {
        "window_closed",
        "rpm_exhausted",
        "tpm_exhausted",
        "budget_exhausted",
        "budget_reserved",
        "cooling_down",
        "deadline",
    }
)

PROXY_JOB = "symphony-proxy"
OPA_JOB = "opa"


@dataclass(frozen=True)
class ContractMetric:
    """One exported metric: its name, type, labels and, where bounded, their values."""

    name: str
    kind: Kind
    job: str | None  # None: any job (Prometheus' own `up`)
    labels: frozenset[str] = frozenset()
    values: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def series_names(self) -> frozenset[str]:
        """The names the exposition carries (a histogram's _bucket, _sum and _count)."""
        if self.kind == "histogram":
            return frozenset(f"{self.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        return frozenset({self.name})

    @property
    def queryable_name(self) -> str:
        """A series name that exists whenever the metric has been observed."""
        return f"{self.name}_count" if self.kind == "histogram" else self.name


def _model_gauge(name: str) -> ContractMetric:
    return ContractMetric(name, "gauge", PROXY_JOB, frozenset({"model"}))


ATTEMPT_RESULTS = frozenset(
    {"ok", "http_429", "http_5xx", "http_4xx", "timeout", "connection_error", "stream_cut"}
)

CONTRACT: tuple[ContractMetric, ...] = (
    ContractMetric(
        "symphony_route_execute_latency_seconds",
        "histogram",
        PROXY_JOB,
        frozenset({"model", "stream", "status"}),
        {
            "stream": frozenset({"true", "false"}),
            "status": frozenset({"ok", "error", "denied"}),
        },
    ),
    ContractMetric(
        "symphony_route_decisions_total",
        "counter",
        PROXY_JOB,
        frozenset({"outcome", "reason", "model"}),
        {"outcome": frozenset({"allowed", "denied"})},
    ),
    ContractMetric("symphony_policy_eval_seconds", "histogram", PROXY_JOB),
    ContractMetric("symphony_gateway_ttfb_seconds", "histogram", PROXY_JOB, frozenset({"model"})),
    ContractMetric(
        "symphony_gateway_attempts_total",
        "counter",
        PROXY_JOB,
        frozenset({"model", "result"}),
        {"result": ATTEMPT_RESULTS},
    ),
    ContractMetric("symphony_route_fallbacks_total", "counter", PROXY_JOB, frozenset({"model"})),
    _model_gauge("symphony_model_budget_fraction_used"),
    _model_gauge("symphony_model_usd_today"),
    _model_gauge("symphony_model_daily_usd_cap"),
    _model_gauge("symphony_model_rpm"),
    _model_gauge("symphony_model_rpm_cap"),
    _model_gauge("symphony_model_tpm"),
    _model_gauge("symphony_model_tpm_cap"),
    _model_gauge("symphony_model_window_open"),
    _model_gauge("symphony_model_cooling_down"),
    ContractMetric("symphony_policy_engine_up", "gauge", PROXY_JOB),
    ContractMetric(
        "symphony_jobs",
        "gauge",
        PROXY_JOB,
        frozenset({"state"}),
        {"state": frozenset({"queued", "running", "done", "failed", "expired", "cancelled"})},
    ),
    ContractMetric(
        "symphony_jobs_expired_total",
        "counter",
        PROXY_JOB,
        frozenset({"reason"}),
        {"reason": EXPIRY_REASONS},
    ),
    ContractMetric(
        "flask_http_request_duration_seconds",
        "histogram",
        PROXY_JOB,
        frozenset({"method", "path", "status"}),
    ),
    ContractMetric(
        "flask_http_request_total", "counter", PROXY_JOB, frozenset({"method", "status"})
    ),
    # OPA's own server metric; only meaningful with job="opa".
    ContractMetric(
        "http_request_duration_seconds",
        "histogram",
        OPA_JOB,
        frozenset({"code", "handler", "method"}),
    ),
    ContractMetric("up", "gauge", None),
)

CONTRACT_SERIES: frozenset[str] = frozenset().union(*(m.series_names for m in CONTRACT))
