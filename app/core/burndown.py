"""Budget burn per model: spend today, spend rates, and when the cap runs out at that rate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.core.counters import ModelUsage, Spend
from app.core.policy_view import PolicyView

PERIODS = {"m1": 60.0, "h1": 3600.0, "d1": 86_400.0}


def runway_seconds(spent: float, cap: float | None, usd_per_s: float) -> float | None:
    """Seconds until `cap` is reached at `usd_per_s`; 0 when already reached; None if never."""
    if cap is None:
        return None
    left = cap - spent
    if left <= 0:
        return 0.0
    if usd_per_s <= 0:
        return None
    return left / usd_per_s


def burndown(
    policy: PolicyView,
    usage: dict[str, ModelUsage],
    spend: Callable[[str, float, float], Spend],
    now: float,
) -> dict[str, Any]:
    """The /status/burndown.json document."""
    models = []
    for name, spec in policy.models.items():
        counts = usage.get(name, ModelUsage())
        rates: dict[str, float] = {}
        tokens: dict[str, int] = {}
        for key, seconds in PERIODS.items():
            spent = spend(name, now - seconds, now)
            rates[key] = spent.usd * 3600.0 / seconds
            tokens[key] = spent.tokens
        # The runway uses the last hour's rate: steadier than a minute, fresher than a day.
        runway = runway_seconds(counts.usd_today, spec.daily_usd_cap, rates["h1"] / 3600.0)
        cap = spec.daily_usd_cap
        models.append(
            {
                "model": name,
                "class": spec.model_class,
                "usd_today": round(counts.usd_today, 6),
                "tokens_today": counts.tokens_today,
                "daily_usd_cap": cap,
                "fraction": round(min(counts.usd_today / cap, 1.0), 6) if cap else 0.0,
                "rate_usd_per_hour": {k: round(v, 6) for k, v in rates.items()},
                "tokens": tokens,
                "runway_seconds": None if runway is None else round(runway, 1),
                "cap_reached_at": (
                    None
                    if runway is None
                    else datetime.fromtimestamp(now + runway, UTC).isoformat(timespec="seconds")
                ),
            }
        )
    return {
        "generated_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "timezone": policy.timezone,
        "policy_version": policy.revision,
        "models": models,
    }
