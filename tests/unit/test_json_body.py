"""Reading request bodies: numbers JSON cannot carry and hostile nesting are a 400, not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.api.body import json_body
from app.api.errors import register_error_handlers
from tests.support.keys import signed_in


@pytest.fixture
def client() -> FlaskClient:
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        return {"body": json_body()}

    return signed_in(app)


def post(client: FlaskClient, raw: str) -> tuple[int, dict[str, Any]]:
    response = client.post("/echo", data=raw, content_type="application/json")
    body: dict[str, Any] = response.get_json()
    return response.status_code, body


def test_an_ordinary_body_is_parsed(client: FlaskClient) -> None:
    raw = '{"a": 1.5, "b": [2, -3e2, 1e308], "c": {"d": null, "n": "NaN"}}'
    assert post(client, raw) == (
        200,
        {"body": {"a": 1.5, "b": [2, -300.0, 1e308], "c": {"d": None, "n": "NaN"}}},
    )


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ('{"a": NaN}', "$.a", "NaN is not a JSON number; send a finite number"),
        ('{"a": [1, Infinity]}', "$.a[1]", "Infinity is not a JSON number; send a finite number"),
        ("-Infinity", "$", "-Infinity is not a JSON number; send a finite number"),
        ('{"p": {"q": 1e999}}', "$.p.q", "number 1e999 is too large for a double"),
        ("[0, -1e999]", "$[1]", "number -1e999 is too large for a double"),
        (
            '{"n": ' + "9" * 5000 + "}",
            "$.n",
            "integer with 5000 digits; at most 4300 are accepted",
        ),
    ],
)
def test_numbers_json_cannot_carry_are_a_400_naming_the_field(
    client: FlaskClient, raw: str, field: str, message: str
) -> None:
    status, body = post(client, raw)
    assert status == 400
    assert body == {
        "error": "malformed_json",
        "message": f"body has a number JSON cannot carry: {field}: {message}",
        "errors": [{"field": field, "message": message}],
    }


def test_every_refused_number_is_listed(client: FlaskClient) -> None:
    status, body = post(client, '{"b": Infinity, "a": [NaN, 1e400]}')
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["$.a[0]", "$.a[1]", "$.b"]


def test_a_long_overflowing_literal_is_echoed_briefly(client: FlaskClient) -> None:
    status, body = post(client, "1" * 400 + ".0")
    assert status == 400
    assert body["errors"] == [
        {"field": "$", "message": f"number {'1' * 40}... is too large for a double"}
    ]


def test_deep_nesting_is_a_400(client: FlaskClient) -> None:
    depth = 100_000
    status, body = post(client, "[" * depth + "]" * depth)
    assert status == 400
    assert body["error"] == "malformed_json"
    assert body["errors"] == [{"field": "$", "message": "JSON nesting too deep"}]


def test_at_most_a_hundred_refusals_are_listed(client: FlaskClient) -> None:
    status, body = post(client, "[" + ", ".join(["NaN"] * 1000) + "]")
    assert status == 400
    assert len(body["errors"]) == 100
