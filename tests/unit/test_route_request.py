"""Parsing routing requests: defaults, estimates and field errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.route_request import InvalidRequest, RouteRequestParser
from tests.support.processes import ROOT


@pytest.fixture(scope="module")
def parser() -> RouteRequestParser:
    schema = json.loads((ROOT / "schemas" / "route-request.schema.json").read_text())
    return RouteRequestParser(schema)


def test_defaults_fill_in_what_the_client_left_out(parser: RouteRequestParser) -> None:
    request = parser.parse({"task": "qa", "loa": 1})
    assert request.policy_view() == {
        "task": "qa",
        "loa": 1,
        "risk": "low",
        "requires_tools": [],
        "est_tokens": 0,
        "max_output_tokens": 256,
        "model": "auto",
    }


def test_tokens_are_estimated_from_the_input(parser: RouteRequestParser) -> None:
    request = parser.parse({"task": "qa", "loa": 0, "input": "x" * 401, "temperature": 0.3})
    assert request.est_tokens == 101
    assert request.policy_view()["temperature"] == 0.3
    assert [(m.role, m.content) for m in request.messages] == [("user", "x" * 401)]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"task": "qa"}, "$.loa", "is required"),
        ({"task": "qa", "loa": 4}, "$.loa", "4 is greater than the maximum of 3"),
        ({"task": "qa", "loa": -1}, "$.loa", "-1 is less than the minimum of 0"),
        ({"task": "qa", "loa": "1"}, "$.loa", "'1' is not of type 'integer'"),
        ({"task": "qa", "loa": True}, "$.loa", "True is not of type 'integer'"),
        ({"task": "qa", "loa": 1, "risk": "extreme"}, "$.risk", None),
        ({"task": "qa", "loa": 1, "extra": 1}, "$.extra", "unknown field"),
        ({"task": "Q A", "loa": 1}, "$.task", None),
        ({"task": "qa", "loa": 1, "temperature": 3}, "$.temperature", None),
        (
            {"task": "qa", "loa": 1, "input": "a", "messages": [{"role": "user", "content": "b"}]},
            "$.messages",
            "give either input or messages, not both",
        ),
    ],
)
def test_bad_fields_are_named(
    parser: RouteRequestParser, body: dict[str, Any], field: str, message: str | None
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parser.parse(body)
    first = caught.value.errors[0]
    assert first.field == field
    if message is not None:
        assert first.message == message
