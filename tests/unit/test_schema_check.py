"""The compiled schema predicates agree with jsonschema: on valid request bodies and on every
mutation of them (each field removed, retyped, made non-finite, too long, too large...)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.schema_check import compile_schema, equal
from app.core.validation import SchemaChecker

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

CHAT: dict[str, Any] = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "json only"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}},
            ],
            "name": "ada",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_tokens": 64,
    "max_completion_tokens": 64,
    "temperature": 0.2,
    "top_p": 1,
    "n": 1,
    "stop": ["\n\n"],
    "user": "u-1",
    "seed": 7,
    "presence_penalty": 0,
    "frequency_penalty": -1.5,
    "logit_bias": {"50256": -100},
    "logprobs": False,
    "top_logprobs": 2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "response_format": {"type": "json_object"},
    "metadata": {
        "symphony_task": "qa",
        "symphony_loa": "1",
        "symphony_risk": "low",
        "symphony_tools": "search,code",
        "trace": "abc",
    },
}
COMPLETIONS: dict[str, Any] = {
    "model": "auto",
    "prompt": ["once upon", "a time"],
    "max_tokens": 16,
    "temperature": 1,
    "stream": False,
    "stop": "\n",
    "top_p": 0.9,
    "n": 2,
    "seed": -3,
    "presence_penalty": 1,
    "frequency_penalty": 0.5,
    "stream_options": {},
    "metadata": {"symphony_task": "summarize"},
}
EMBEDDINGS: dict[str, Any] = {
    "model": "auto",
    "input": ["a", "b"],
    "encoding_format": "float",
    "dimensions": 256,
    "user": "u-2",
    "metadata": {"symphony_risk": "high"},
}
ROUTE: dict[str, Any] = {
    "task": "qa",
    "loa": 2,
    "risk": "medium",
    "requires_tools": ["search", "code"],
    "est_tokens": 900,
    "input": "hello",
    "defer": {"until": "2026-11-28T09:00:00+01:00", "callback_url": "https://example.org/cb"},
    "max_output_tokens": 128,
    "stream": False,
    "model": "hosted/alpha",
    "temperature": 0.5,
}
ROUTE_MESSAGES: dict[str, Any] = {
    "task": "code",
    "loa": 0,
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
}

CASES = [
    ("chat-completions", CHAT),
    ("completions", COMPLETIONS),
    ("embeddings", EMBEDDINGS),
    ("route-request", ROUTE),
    ("route-request", ROUTE_MESSAGES),
]

REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    5.0,
    0.5,
    2.5,
    101,
    10**30,
    -(10**30),
    math.nan,
    math.inf,
    -math.inf,
    "",
    "x",
    "auto",
    "tool",
    "user",
    "x" * 300,
    [],
    [1, 1],
    [True, 1],
    ["a", "a"],
    {},
    {"type": "text"},
]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _delete(document: Any, path: tuple[Any, ...]) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def mutations(document: Any) -> Iterator[Any]:
    """The document, then each field replaced by each odd value, removed, or joined by an
    unknown sibling."""
    yield document
    for path in _paths(document):
        for value in REPLACEMENTS:
            yield _set(document, path, value)
        if path:
            yield _delete(document, path)
            parent = path[:-1]
            yield (
                _set(document, (*parent, "unknown_field"), 1)
                if isinstance(_get(document, parent), dict)
                else document
            )


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@pytest.mark.parametrize(
    ("name", "document"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_the_compiled_schema_agrees_with_jsonschema(name: str, document: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    valid = compile_schema(schema)
    assert valid is not None, f"{name} does not compile"
    checker = SchemaChecker(schema)
    assert checker.full_errors(document) == [], "the base document must be valid"
    seen_invalid = 0
    for mutated in mutations(document):
        expected = checker.full_errors(mutated) == []
        assert valid(mutated) is expected, f"{name}: {json.dumps(mutated)[:300]}"
        assert checker.errors(mutated) == checker.full_errors(mutated)
        seen_invalid += not expected
    assert seen_invalid > 50  # the mutations do reach the schema's checks


def test_a_schema_with_other_keywords_is_left_to_jsonschema() -> None:
    policy = json.loads((SCHEMAS / "policy.schema.json").read_text(encoding="utf-8"))
    assert compile_schema(policy) is None  # it uses $ref
    assert compile_schema({"type": "object", "patternProperties": {"^a": {}}}) is None
    assert compile_schema({"prefixItems": [{"type": "string"}]}) is None


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        ("1", 1, False),
        ({"a": [1, True]}, {"a": [1.0, True]}, True),
        ({"a": [1, True]}, {"a": [1, 1]}, False),
        ([1, 2], [1, 2, 3], False),
        (None, None, True),
    ],
)
def test_json_equality_keeps_booleans_apart_from_numbers(one: Any, other: Any, same: bool) -> None:
    assert equal(one, other) is same
