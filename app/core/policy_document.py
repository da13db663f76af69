"""The policy document: schema checks plus the semantic checks a schema cannot express."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.core.validation import (
    FieldError,
    SchemaChecker,
    find_leaves,
    is_finite_number,
    non_finite_message,
    sorted_errors,
)

# The schema's maxLength for `timezone`; longer names are not looked up at all.
MAX_ZONE_LENGTH = 64

# A model's budget_alerts defaults: the fractions of daily_usd_cap spent that warn, then page.
DEFAULT_WARN_AT = 0.8
DEFAULT_CRITICAL_AT = 0.95
# The deferred.release_share default: the share of rpm_cap released when a window opens.
DEFAULT_RELEASE_SHARE = 0.5


@cache
def _known_zones() -> frozenset[str]:
    # Listing the zones walks the tz database once; every later check is a set lookup.
    return frozenset(available_timezones())


def _zone_error(name: Any) -> str | None:
    if not isinstance(name, str) or not name or len(name) > MAX_ZONE_LENGTH:
        return None  # the schema reports it
    if name not in _known_zones():
        return f"unknown IANA time zone {name!r}"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unreadable IANA time zone {name!r}"
    return None


def _objects(value: Any) -> list[dict[str, Any]]:
    # A wrongly-typed list or item is a schema error already; semantic checks just skip it.
    return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _model_errors(i: int, model: dict[str, Any]) -> Iterator[FieldError]:
    for j, window in enumerate(_objects(model.get("usage_windows"))):
        start = window.get("start")
        if isinstance(start, str) and start == window.get("end"):
            yield FieldError(
                f"$.models[{i}].usage_windows[{j}]",
                f"window start equals end ({start}): it is never open",
            )
    bounds = _object(model.get("temperature_bounds"))
    low, high = bounds.get("min"), bounds.get("max")
    if is_finite_number(low) and is_finite_number(high) and low > high:
        yield FieldError(f"$.models[{i}].temperature_bounds", "min is greater than max")
    alerts = _object(model.get("budget_alerts"))
    warn = alerts.get("warn_at", DEFAULT_WARN_AT)
    critical = alerts.get("critical_at", DEFAULT_CRITICAL_AT)
    if alerts and is_finite_number(warn) and is_finite_number(critical) and warn >= critical:
        yield FieldError(
            f"$.models[{i}].budget_alerts",
            f"warn_at ({warn}) must be below critical_at ({critical})",
        )


def semantic_errors(doc: Any) -> list[FieldError]:
    """Errors a schema cannot express; never raises, whatever the document's shape."""
    errors = [
        FieldError(where, non_finite_message(value))
        for where, value in find_leaves(doc, _is_non_finite)
    ]
    if not isinstance(doc, dict):
        return errors
    zone = _zone_error(doc.get("timezone"))
    if zone:
        errors.append(FieldError("$.timezone", zone))
    models = _objects(doc.get("models"))
    names = [m.get("name") for m in models]
    counts = Counter(n for n in names if isinstance(n, str))
    for i, name in enumerate(names):
        if isinstance(name, str) and counts[name] > 1:
            errors.append(FieldError(f"$.models[{i}].name", f"duplicate model name {name!r}"))
    for i, model in enumerate(models):
        errors.extend(_model_errors(i, model))
    rules = _objects(doc.get("rules"))
    ids = Counter(r.get("id") for r in rules if isinstance(r.get("id"), str))
    for i, rule in enumerate(rules):
        rule_id = rule.get("id")
        if isinstance(rule_id, str) and ids[rule_id] > 1:
            errors.append(FieldError(f"$.rules[{i}].id", f"duplicate rule id {rule_id!r}"))
        route = _object(rule.get("route"))
        for key in ("prefer", "fallback"):
            for j, name in enumerate(_list(route.get(key))):
                if isinstance(name, str) and name not in counts:
                    errors.append(
                        FieldError(f"$.rules[{i}].route.{key}[{j}]", f"unknown model {name!r}")
                    )
    return errors


class PolicyValidator:
    """Validates a whole policy document and lists every error as (JSON path, message)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = SchemaChecker(schema)

    def errors(self, document: Any) -> list[FieldError]:
        """Schema and semantic errors together, without duplicates, sorted by field."""
        return sorted_errors([*self._schema.errors(document), *semantic_errors(document)])
