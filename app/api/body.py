"""Reading a JSON request body, with a clear 4xx for everything that is not one."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from app.api.errors import ApiError
from app.core.validation import FieldError


def json_body() -> Any:
    """The parsed JSON body, or an ApiError naming what is wrong with it."""
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the body as JSON with content-type: application/json",
            [FieldError("$", "content-type must be application/json")],
        )
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise ApiError(
            400,
            "malformed_json",
            "body nests too deeply",
            [FieldError("$", "JSON nesting too deep")],
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = (
            f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise ApiError(
            400,
            "malformed_json",
            f"body is not valid JSON {where}".strip(),
            [FieldError("$", f"malformed JSON: {exc}")],
        ) from exc


def json_object() -> dict[str, Any]:
    """The JSON body, which must be an object."""
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "invalid_request",
            "body must be a JSON object",
            [FieldError("$", f"expected an object, got {type(body).__name__}")],
        )
    return body
