"""Building the OPA input document: the request plus the live state of every model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.counters import ModelUsage
from app.core.route_request import RouteRequest


def build_input(
    request: RouteRequest,
    usage: Mapping[str, ModelUsage],
    unhealthy: frozenset[str],
    now: float,
    kill_switch: bool,
) -> dict[str, Any]:
    """The `input` of `data.symphony.router.decision` (live state travels here, never as data)."""
    document: dict[str, Any] = {
        "request": request.policy_view(),
        "models": {
            name: {
                "rpm": counts.rpm,
                "tpm": counts.tpm,
                "usd_today": round(counts.usd_today, 6),
                "cooling_down": counts.cooling_down(now),
                "healthy": name not in unhealthy,
            }
            for name, counts in usage.items()
        },
        "now_ns": int(now * 1_000_000_000),
        "kill_switch": kill_switch,
    }
    if request.client is not None:
        document["client"] = dict(request.client)
    return document
