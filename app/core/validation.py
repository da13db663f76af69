"""Turning JSON-schema failures into (field, message) pairs a client can act on."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, TypeChecker, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from app.core.schema_check import compile_schema

_UNEXPECTED = re.compile(r"'([^']+)' (?:was|were) unexpected")
_QUOTED = re.compile(r"'([^']+)'")
_UNIQUE_ITEMS = Draft202012Validator.VALIDATORS["uniqueItems"]


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


@dataclass(frozen=True, slots=True)
class _Step:
    parent: _Step | None
    key: str | int


def _render(step: _Step | None) -> str:
    keys: list[str | int] = []
    while step is not None:
        keys.append(step.key)
        step = step.parent
    return json_path(reversed(keys))


def find_leaves(document: Any, wanted: Callable[[Any], bool]) -> Iterator[tuple[str, Any]]:
    """(JSON path, value) for every leaf of `document` that `wanted` accepts."""
    # Iterative, and each path is rendered only for a match: a parsed document may nest
    # deeper than recursion allows, and copying paths would make wide, deep ones quadratic.
    stack: list[tuple[_Step | None, Any]] = [(None, document)]
    while stack:
        step, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((_Step(step, str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((_Step(step, i), v) for i, v in enumerate(value))
        elif wanted(value):
            yield _render(step), value


def is_integer(value: object) -> TypeGuard[int]:
    """Whether `value` is a JSON integer: an int, never a bool and never a float such as 5.0."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """Whether `value` is a JSON number: an integer or a finite float."""
    return is_integer(value) or (isinstance(value, float) and math.isfinite(value))


def non_finite_message(value: float) -> str:
    """The message for NaN or an infinity wherever it appears."""
    return f"must be a finite number, not {value}"


def _strict_integer(_checker: TypeChecker, instance: object) -> bool:
    return is_integer(instance)


def _finite_number(_checker: TypeChecker, instance: object) -> bool:
    return is_finite_number(instance)


def _bounded_unique_items(
    validator: Validator, unique: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    # jsonschema compares mixed-type items pairwise (quadratic); an array longer than its
    # maxItems is already an error, so it is not worth the time.
    limit = schema.get("maxItems")
    if isinstance(instance, list) and is_integer(limit) and len(instance) > limit:
        return
    yield from _UNIQUE_ITEMS(validator, unique, instance, schema)


# Draft 2020-12 counts 5.0 as an integer and NaN as a number; caps and counts must be ints,
# and a non-finite number would make a decision or a JSON answer unreadable. (The stubs leave
# `extend` untyped; it returns a validator class like Draft202012Validator.)
_StrictValidator: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={"uniqueItems": _bounded_unique_items},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _strict_integer, "number": _finite_number}
    ),
)


def _type_message(error: ValidationError) -> str:
    instance = error.instance
    if isinstance(instance, float):
        if not math.isfinite(instance):
            return non_finite_message(instance)
        expected = error.validator_value
        if expected == "integer" or (isinstance(expected, list) and "integer" in expected):
            return f"must be an integer, not {instance}"
    return error.message


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
    if error.validator == "type":
        return [FieldError(json_path(where), _type_message(error))]
    # jsonschema repeats the whole value; an over-long one would swell the answer.
    if error.validator == "maxLength":
        return [
            FieldError(json_path(where), f"is too long: at most {error.validator_value} characters")
        ]
    if error.validator == "maxItems":
        return [
            FieldError(json_path(where), f"has too many items: at most {error.validator_value}")
        ]
    return [FieldError(json_path(where), error.message)]


def sorted_errors(errors: Iterable[FieldError]) -> list[FieldError]:
    """Errors without duplicates, ordered by field then message."""
    return sorted(set(errors), key=lambda e: (e.field, e.message))


class SchemaChecker:
    """A compiled JSON schema (integers are ints, numbers finite) reporting every error by path.

    A valid document is recognised by the schema's compiled predicate (app/core/schema_check.py,
    several times faster); jsonschema walks only documents the predicate rejects, to name
    every error (or none, should the predicate ever be stricter than jsonschema)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self._validator = _StrictValidator(schema)
        self._valid = compile_schema(schema)

    def errors(self, document: Any) -> list[FieldError]:
        """Every schema error in `document`, most specific first within a path."""
        if self._valid is not None and self._valid(document):
            return []
        return self.full_errors(document)

    def full_errors(self, document: Any) -> list[FieldError]:
        """Every schema error in `document` as jsonschema finds them."""
        found: list[FieldError] = []
        for error in self._validator.iter_errors(document):
            found.extend(_explode(error))
        return sorted_errors(found)
