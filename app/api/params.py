"""Query and body parameters shared by several endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
