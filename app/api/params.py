"""Query and body parameters shared by several endpoints."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import request

from app.api.errors import ApiError
from app.core.validation import FieldError


def timestamp(value: Any, field_name: str) -> datetime:
    """An RFC 3339 time with an offset, or a 400 naming the field."""
    if not isinstance(value, str) or len(value) > 64:
        raise ApiError(
            400,
            "invalid_request",
            f"{field_name}: an RFC 3339 time with an offset",
            [FieldError(field_name, "must be an RFC 3339 time with an offset")],
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(
            400,
            "invalid_request",
            f"{field_name}: an RFC 3339 time with an offset",
            [FieldError(field_name, "must be an RFC 3339 time with an offset")],
        )
    return moment


def reject_unknown_fields(body: Iterable[str], allowed: set[str]) -> None:
    """400 naming every body field outside `allowed`."""
    _reject(body, allowed, "$.", "field")


def reject_unknown_parameters(args: Iterable[str], allowed: set[str]) -> None:
    """400 naming every query parameter outside `allowed`."""
    _reject(args, allowed, "?", "parameter")


def _reject(given: Iterable[str], allowed: set[str], prefix: str, noun: str) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            f"{prefix}{unknown[0]}: unknown {noun}",
            [FieldError(f"{prefix}{name}", f"unknown {noun}") for name in unknown],
        )


INT_MAX = 2**63 - 1
"""The largest integer a query parameter may carry (a signed 64-bit column)."""


def integer_parameter(name: str, default: int, low: int, high: int) -> int:
    """Query parameter `name` as an integer in [low, high] (`default` when absent), else 400
    naming it: digits only, so no sign, exponent, NaN or 4,000-digit literal gets through."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not low <= int(raw) <= high:
        raise ApiError(
            400,
            "invalid_request",
            f"?{name}: an integer from {low} to {high}",
            [FieldError(f"?{name}", f"must be an integer from {low} to {high}")],
        )
    return int(raw)
