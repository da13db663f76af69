"""The hot path's JSON encoding: orjson's output where it can, the standard library's where
it cannot, and Flask answers that read back exactly as Flask's own provider's."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from app.adapters.json_codec import encode
from app.api.json_provider import FastJSONProvider


@pytest.mark.parametrize(
    "value",
    [
        {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.7},
        {"n": -(2**63), "m": 2**64 - 1, "f": 1e-07, "big": 1e308, "t": True, "z": None},
        {"text": "é — 日本 🎵", "nested": [[], {}, [1, [2, [3]]]]},
    ],
)
def test_what_orjson_encodes_reads_back_as_the_same_value(value: dict[str, Any]) -> None:
    assert json.loads(encode(value)) == value


def test_keys_are_sorted_when_asked() -> None:
    assert encode({"b": 1, "a": {"d": 2, "c": 3}}, sort_keys=True) == b'{"a":{"c":3,"d":2},"b":1}'
    assert encode({"b": 1, "a": 2}) == b'{"b":1,"a":2}'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        # orjson refuses each of these; the standard library writes them, escaped to ASCII.
        ({"content": "a\ud800b"}, b'{"content":"a\\ud800b"}'),
        ({"seed": 2**70}, b'{"seed":1180591620717411303424}'),
        ({1: "one"}, b'{"1":"one"}'),
    ],
)
def test_what_orjson_refuses_is_written_as_json_dumps_writes_it(
    value: dict[Any, Any], written: bytes
) -> None:
    assert encode(value) == written
    assert json.loads(written) == json.loads(json.dumps(value))


def test_default_converts_what_neither_encoder_knows() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert encode({"x": Opaque()}, default=str) == b'{"x":"opaque"}'
    with pytest.raises(TypeError):
        encode({"x": Opaque()})


@dataclass
class Row:
    name: str
    at: datetime


@pytest.mark.parametrize(
    "value",
    [
        {"z": 1, "a": [1.5, "é", None], "nested": {"b": True, "a": False}},
        {"at": datetime(2026, 11, 28, 9, 30, tzinfo=UTC), "price": Decimal("0.001")},
        {"id": uuid.UUID(int=7), "row": Row("r", datetime(2026, 1, 2, tzinfo=UTC))},
        [{"surrogate": "\udfff"}, 2**65],
    ],
)
def test_flask_answers_read_back_as_the_default_providers(value: Any) -> None:
    ours, default = Flask("ours"), Flask("default")
    ours.json = FastJSONProvider(ours)
    with ours.app_context():
        fast = jsonify(value)
    with default.app_context():
        assert isinstance(default.json, DefaultJSONProvider)
        plain = jsonify(value)
    assert fast.mimetype == plain.mimetype == "application/json"
    assert fast.get_data().endswith(b"\n")
    assert json.loads(fast.get_data()) == json.loads(plain.get_data())
    # Same key order too (sorted), so the text differs at most in escapes and float spelling.
    assert list(json.loads(fast.get_data())) == list(json.loads(plain.get_data()))


def test_debug_mode_answers_are_pretty_printed_by_flask() -> None:
    app = Flask("debug")
    app.json = FastJSONProvider(app)
    app.debug = True
    with app.app_context():
        assert jsonify({"b": 1, "a": 2}).get_data() == b'{\n  "a": 2,\n  "b": 1\n}\n'
