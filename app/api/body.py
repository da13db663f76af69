"""Reading a JSON request body, with a clear 4xx for everything that is not one."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from itertools import islice
from typing import Any

from flask import request

from app.api.errors import ApiError
from app.core.validation import FieldError, find_leaves

# Python's own limit for int(str); a longer literal is refused before int() raises on it.
MAX_INT_DIGITS = 4300
# Every integer a body may carry fits a signed 64-bit column, counter or OpenAI `seed`.
INT_BOUND = 2**63
# How much of a refused literal an error message repeats, and how many refusals are listed.
_ECHO = 40
MAX_REPORTED = 100


@dataclass(frozen=True)
class _Refused:
    """Stands in for a number JSON cannot carry until its path is known."""

    message: str


def _echo(literal: str) -> str:
    return literal if len(literal) <= _ECHO else f"{literal[:_ECHO]}..."


def _constant(literal: str) -> _Refused:
    return _Refused(f"{literal} is not a JSON number; send a finite number")


def _float(literal: str) -> float | _Refused:
    value = float(literal)
    if math.isfinite(value):
        return value
    return _Refused(f"number {_echo(literal)} is too large for a double")


def _int(literal: str) -> int | _Refused:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Refused(f"integer with {digits} digits; at most {MAX_INT_DIGITS} are accepted")
    value = int(literal)
    if not -INT_BOUND <= value < INT_BOUND:
        return _Refused(f"integer {_echo(literal)} is out of range (a signed 64-bit integer)")
    return value


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON, refusing NaN, infinities, overflowing floats and over-long integers."""
    refused: list[_Refused] = []

    def note(value: Any) -> Any:
        if isinstance(value, _Refused):
            refused.append(value)
        return value

    value = json.loads(
        raw,
        parse_constant=lambda s: note(_constant(s)),
        parse_float=lambda s: note(_float(s)),
        parse_int=lambda s: note(_int(s)),
    )
    if refused:
        found = find_leaves(value, lambda leaf: isinstance(leaf, _Refused))
        errors = sorted(
            (FieldError(where, leaf.message) for where, leaf in islice(found, MAX_REPORTED)),
            key=lambda e: e.field,
        )
        first = errors[0]
        raise ApiError(
            400,
            "malformed_json",
            f"body has a number JSON cannot carry: {first.field}: {first.message}",
            errors,
        )
    return value


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
        return parse_json(raw)
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
