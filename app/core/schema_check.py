"""A JSON schema compiled into plain Python predicates: a fast "is this valid?" for the hot path.

jsonschema walks a schema keyword by keyword through generators, about 0.1 ms for an OpenAI
chat body here. Most bodies are valid, so SchemaChecker (app/core/validation.py) asks this
predicate first and runs jsonschema only when the answer is no, for the errors by field. The
predicate therefore must never accept what jsonschema (with the strict integer and finite
number types of validation.py) rejects; tests/unit/test_schema_check.py checks that the two
agree on every valid and invalid body of the tests and on mutations of them.

Only the keywords Symphony's request schemas use are compiled. A schema with any other
keyword (a `$ref`, say) compiles to None and is always checked by jsonschema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Any], bool]

# Keywords that never affect validity (jsonschema checks `format` only with a format checker,
# which SchemaChecker does not pass).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "format",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)


class Unsupported(Exception):
    """The schema uses a keyword this module does not compile."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_integer(value) or (isinstance(value, float) and math.isfinite(value))


_TYPES: dict[str, Predicate] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def equal(one: Any, other: Any) -> bool:
    """JSON equality as jsonschema has it: true and 1 differ, 1 and 1.0 do not."""
    if isinstance(one, bool) or isinstance(other, bool):
        return isinstance(one, bool) and isinstance(other, bool) and one == other
    if isinstance(one, str) or isinstance(other, str):
        return isinstance(one, str) and isinstance(other, str) and one == other
    if isinstance(one, dict) or isinstance(other, dict):
        return (
            isinstance(one, dict)
            and isinstance(other, dict)
            and one.keys() == other.keys()
            and all(equal(one[k], other[k]) for k in one)
        )
    if isinstance(one, list) or isinstance(other, list):
        return (
            isinstance(one, list)
            and isinstance(other, list)
            and len(one) == len(other)
            and all(equal(a, b) for a, b in zip(one, other, strict=True))
        )
    return bool(one == other)


def _every(predicates: list[Predicate]) -> Predicate:
    """True when all hold: a plain loop (all() over a generator costs a generator per call,
    and a chat body runs some seventy of these)."""
    if len(predicates) == 1:
        return predicates[0]
    first, *rest = predicates
    if len(rest) == 1:
        second = rest[0]
        return lambda v: first(v) and second(v)

    def check(v: Any) -> bool:
        for predicate in predicates:  # noqa: SIM110  (all() costs a generator per call)
            if not predicate(v):
                return False
        return True

    return check


def _some(predicates: list[Predicate]) -> Predicate:
    """True when one holds (see _every)."""

    def check(v: Any) -> bool:
        for predicate in predicates:  # noqa: SIM110  (any() costs a generator per call)
            if predicate(v):
                return True
        return False

    return check


def compile_schema(schema: Any) -> Predicate | None:
    """The schema as one predicate, or None when it uses a keyword not compiled here."""
    try:
        return _compile(schema)
    except Unsupported:
        return None


def _compile(schema: Any) -> Predicate:
    if schema is True:
        return lambda _v: True
    if schema is False:
        return lambda _v: False
    if not isinstance(schema, Mapping):
        raise Unsupported(repr(schema)[:40])
    checks: list[Predicate] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS or keyword in ("then", "else"):
            continue
        build = _KEYWORDS.get(keyword)
        if build is None:
            raise Unsupported(keyword)
        checks.append(build(value, schema))
    if not checks:
        return lambda _v: True
    return _every(checks)


def _type(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) and n in _TYPES for n in names):
        raise Unsupported(f"type {value!r}")
    tests = [_TYPES[n] for n in names]
    return tests[0] if len(tests) == 1 else _some(tests)


def _properties(value: Any, schema: Mapping[str, Any]) -> Predicate:
    subs = {name: _compile(sub) for name, sub in value.items()}
    extra = schema.get("additionalProperties", True)
    others = _compile(extra)
    allow_others = extra is True

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, item in v.items():
            sub = subs.get(key)
            if sub is not None:
                if not sub(item):
                    return False
            elif not allow_others and not others(item):
                return False
        return True

    return check


def _additional(value: Any, schema: Mapping[str, Any]) -> Predicate:
    if "properties" in schema:
        return lambda _v: True  # checked with the properties
    others = _compile(value)
    return lambda v: not isinstance(v, dict) or all(others(item) for item in v.values())


def _required(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    names = tuple(value)
    return lambda v: not isinstance(v, dict) or all(name in v for name in names)


def _items(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    if not isinstance(value, (Mapping, bool)):
        raise Unsupported("items as a list")
    sub = _compile(value)

    def check(v: Any) -> bool:
        if isinstance(v, list):
            for item in v:
                if not sub(item):
                    return False
        return True

    return check


def _enum(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    options = list(value)
    if options and all(isinstance(option, str) for option in options):
        # Only a string equals a string (equal()): one set lookup.
        names = frozenset(options)
        return lambda v: isinstance(v, str) and v in names
    return lambda v: any(equal(v, option) for option in options)


def _const(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    return lambda v: equal(v, value)


def _bound(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Mapping[str, Any]], Predicate]:
    def build(limit: Any, _schema: Mapping[str, Any]) -> Predicate:
        if not _is_number(limit):
            raise Unsupported(f"bound {limit!r}")
        # As jsonschema: a bound applies to numbers only (a NaN is left to `type`).
        return lambda v: not _is_number(v) or compare(v, limit)

    return build


def _size(
    kind: type[str] | type[list[Any]] | type[dict[str, Any]], compare: Callable[[int, int], bool]
) -> Callable[[Any, Mapping[str, Any]], Predicate]:
    def build(limit: Any, _schema: Mapping[str, Any]) -> Predicate:
        if not _is_integer(limit):
            raise Unsupported(f"size {limit!r}")
        return lambda v: not isinstance(v, kind) or compare(len(v), limit)

    return build


def _pattern(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    compiled = re.compile(value)
    return lambda v: not isinstance(v, str) or compiled.search(v) is not None


def _unique(value: Any, schema: Mapping[str, Any]) -> Predicate:
    if value is not True:
        return lambda _v: True
    limit = schema.get("maxItems")
    cap = limit if _is_integer(limit) else None

    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        if cap is not None and len(v) > cap:
            return False  # maxItems fails it (validation.py skips the quadratic comparison)
        return not any(equal(a, b) for i, a in enumerate(v) for b in v[i + 1 :])

    return check


def _all_of(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    return _every([_compile(s) for s in value]) if value else lambda _v: True


def _any_of(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    return _some([_compile(s) for s in value])


def _one_of(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    subs = [_compile(s) for s in value]
    return lambda v: sum(1 for sub in subs if sub(v)) == 1


def _not(value: Any, _schema: Mapping[str, Any]) -> Predicate:
    sub = _compile(value)
    return lambda v: not sub(v)


def _if(value: Any, schema: Mapping[str, Any]) -> Predicate:
    test = _compile(value)
    then = _compile(schema.get("then", True))
    otherwise = _compile(schema.get("else", True))
    return lambda v: then(v) if test(v) else otherwise(v)


_KEYWORDS: dict[str, Callable[[Any, Mapping[str, Any]], Predicate]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "items": _items,
    "enum": _enum,
    "const": _const,
    "minimum": _bound(lambda v, limit: v >= limit),
    "maximum": _bound(lambda v, limit: v <= limit),
    "exclusiveMinimum": _bound(lambda v, limit: v > limit),
    "exclusiveMaximum": _bound(lambda v, limit: v < limit),
    "minLength": _size(str, lambda n, limit: n >= limit),
    "maxLength": _size(str, lambda n, limit: n <= limit),
    "minItems": _size(list, lambda n, limit: n >= limit),
    "maxItems": _size(list, lambda n, limit: n <= limit),
    "minProperties": _size(dict, lambda n, limit: n >= limit),
    "maxProperties": _size(dict, lambda n, limit: n <= limit),
    "pattern": _pattern,
    "uniqueItems": _unique,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
    "if": _if,
}
