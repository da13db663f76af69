"""One row per model: the live figures the matrix, the gauges and the health page show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.counters import ModelUsage
from app.core.latency import LatencyBook
from app.core.policy_view import PolicyView


@dataclass(frozen=True)
class WindowState:
    """Whether a model's usage window is open now, as the policy engine sees it."""

    open: bool
    detail: str = ""


@dataclass(frozen=True)
class ModelStatus:
    """A model's live state."""

    model: str
    model_class: str
    provider: str
    window: WindowState
    rpm: int
    rpm_cap: int
    tpm: int
    tpm_cap: int
    usd_today: float
    daily_usd_cap: float | None
    cooling_down: bool
    healthy: bool
    p95_ms: float | None
    ttfb_ms: float | None

    @property
    def budget_fraction(self) -> float:
        """Share of the daily cap spent (0 without a cap)."""
        if not self.daily_usd_cap:
            return 0.0
        return min(self.usd_today / self.daily_usd_cap, 1.0)

    def as_event(self) -> dict[str, Any]:
        """The row of a `model_stats` websocket message."""
        return {
            "id": self.model,
            "class": self.model_class,
            "provider": self.provider,
            "window": "open" if self.window.open else "closed",
            "windowDetail": self.window.detail,
            "rpm": self.rpm,
            "rpmCap": self.rpm_cap,
            "tpm": self.tpm,
            "tpmCap": self.tpm_cap,
            "usdToday": round(self.usd_today, 6),
            "usdCap": self.daily_usd_cap,
            "budgetFrac": round(self.budget_fraction, 4),
            "p95ms": None if self.p95_ms is None else round(self.p95_ms, 1),
            "ttfbms": None if self.ttfb_ms is None else round(self.ttfb_ms, 1),
            "coolingDown": self.cooling_down,
            "healthy": self.healthy,
        }


def model_statuses(
    policy: PolicyView,
    usage: Mapping[str, ModelUsage],
    windows: Mapping[str, WindowState],
    latencies: LatencyBook,
    unhealthy: frozenset[str],
    now: float,
) -> list[ModelStatus]:
    """Rows in policy order."""
    rows = []
    for name, spec in policy.models.items():
        counts = usage.get(name, ModelUsage())
        rows.append(
            ModelStatus(
                model=name,
                model_class=spec.model_class,
                provider=spec.provider,
                window=windows.get(name, WindowState(True)),
                rpm=counts.rpm,
                rpm_cap=spec.rpm_cap,
                tpm=counts.tpm,
                tpm_cap=spec.tpm_cap,
                usd_today=counts.usd_today,
                daily_usd_cap=spec.daily_usd_cap,
                cooling_down=counts.cooling_down(now),
                healthy=name not in unhealthy,
                p95_ms=latencies.p95_ms(name),
                ttfb_ms=latencies.ttfb_p50_ms(name),
            )
        )
    return rows
