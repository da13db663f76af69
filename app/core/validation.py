"""Turning JSON-schema failures into (field, message) pairs a client can act on."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_UNEXPECTED = re.compile(r"'([^']+)' (?:was|were) unexpected")
_QUOTED = re.compile(r"'([^']+)'")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, addressed by a JSON path such as `$.models[0].name`."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form used in every 4xx body."""
        return {"field": self.field, "message": self.message}


def json_path(parts: Iterable[str | int]) -> str:
    """Render a jsonschema path deque as `$.a[0].b`."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _explode(error: ValidationError) -> list[FieldError]:
    where = list(error.absolute_path)
    if error.validator == "additionalProperties":
        match = _UNEXPECTED.search(error.message)
        names = _QUOTED.findall(match.group(0)) if match else []
        if not names and isinstance(error.instance, dict) and isinstance(error.schema, dict):
            allowed = set(error.schema.get("properties", {}))
            names = [k for k in error.instance if k not in allowed]
        return [FieldError(json_path([*where, n]), "unknown field") for n in names]
    if error.validator == "required":
        match = _QUOTED.search(error.message)
        name = match.group(1) if match else "?"
        return [FieldError(json_path([*where, name]), "is required")]
    return [FieldError(json_path(where), error.message)]


class SchemaChecker:
    """A compiled JSON schema that reports every error, sorted by path."""

    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self._validator = Draft202012Validator(schema)

    def errors(self, document: Any) -> list[FieldError]:
        """Every schema error in `document`, most specific first within a path."""
        found: list[FieldError] = []
        for error in self._validator.iter_errors(document):
            found.extend(_explode(error))
        return sorted(set(found), key=lambda e: (e.field, e.message))
