"""The policy document: schema checks plus the semantic checks a schema cannot express."""

from __future__ import annotations

from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.validation import FieldError, SchemaChecker


def _zone_error(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None  # the schema reports it
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown IANA time zone {name!r}"
    return None


def semantic_errors(doc: dict[str, Any]) -> list[FieldError]:
    """Errors in a schema-valid document: duplicates, dangling names, bad zones, empty windows."""
    errors: list[FieldError] = []
    zone = _zone_error(doc.get("timezone"))
    if zone:
        errors.append(FieldError("$.timezone", zone))
    models = doc.get("models", [])
    names = [m.get("name") for m in models]
    counts = Counter(names)
    for i, name in enumerate(names):
        if counts[name] > 1:
            errors.append(FieldError(f"$.models[{i}].name", f"duplicate model name {name!r}"))
    for i, model in enumerate(models):
        for j, window in enumerate(model.get("usage_windows", [])):
            if window.get("start") == window.get("end"):
                errors.append(
                    FieldError(
                        f"$.models[{i}].usage_windows[{j}]",
                        f"window start equals end ({window.get('start')}): it is never open",
                    )
                )
        bounds = model.get("temperature_bounds", {})
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            errors.append(
                FieldError(f"$.models[{i}].temperature_bounds", "min is greater than max")
            )
    known = set(names)
    ids = Counter(rule.get("id") for rule in doc.get("rules", []))
    for i, rule in enumerate(doc.get("rules", [])):
        if ids[rule.get("id")] > 1:
            errors.append(FieldError(f"$.rules[{i}].id", f"duplicate rule id {rule.get('id')!r}"))
        route = rule.get("route", {})
        for key in ("prefer", "fallback"):
            for j, name in enumerate(route.get(key, [])):
                if name not in known:
                    errors.append(
                        FieldError(f"$.rules[{i}].route.{key}[{j}]", f"unknown model {name!r}")
                    )
    return errors


class PolicyValidator:
    """Validates a whole policy document and lists every error as (JSON path, message)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = SchemaChecker(schema)

    def errors(self, document: Any) -> list[FieldError]:
        """All errors; semantic checks run only once the shape is right."""
        found = self._schema.errors(document)
        if found:
            return found
        return semantic_errors(document)
