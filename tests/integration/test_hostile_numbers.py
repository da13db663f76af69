"""Hostile numbers on every endpoint, generated from the route map: NaN, infinities, floats
that overflow a double and integers beyond 64 bits are a 400 naming the field wherever a JSON
body is read, and never a 500 or 503 anywhere (query parameters included)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.core.identity import Role
from tests.integration.test_access import ROUTES, concrete
from tests.support.keys import ADMIN_KEY, SIDECAR_KEY, bearer
from tests.support.processes import Service

HOSTILE_BODY = (
    '{"temperature": NaN, "max_output_tokens": 1e999, "seed": 99999999999999999999999,'
    ' "loa": -Infinity, "task": "qa"}'
)
HOSTILE_FIELDS = {"$.temperature", "$.max_output_tokens", "$.seed", "$.loa"}
HOSTILE_QUERY = "limit=1e400&before=99999999999999999999999&since=NaN&explain=off"
PAGED = {"/decisions", "/audit", "/policy/history", "/policy/revisions"}
WRITES = [(r, m, role) for r, m, role in ROUTES if m in ("POST", "PUT", "PATCH")]
READS = [(r, m, role) for r, m, role in ROUTES if m == "GET" and r != "/events"]


def key_for(role: Role) -> str:
    """A key holding `role` (admin holds every role but the sidecar's)."""
    return SIDECAR_KEY if role is Role.SIDECAR else ADMIN_KEY


def named_fields(body: Any) -> set[str]:
    """Fields an error body names: Symphony's `errors[].field` or OpenAI's `param`."""
    error = (body or {}).get("error")
    if isinstance(error, dict):
        return {error.get("param") or ""}
    return {e["field"] for e in (body or {}).get("errors", [])}


@pytest.mark.parametrize(("rule", "method", "role"), WRITES, ids=lambda v: str(v))
def test_a_body_with_hostile_numbers_is_a_400_naming_them(
    app: Flask, opa: Service, rule: str, method: str, role: Role
) -> None:
    client = app.test_client()
    response = client.open(
        concrete(rule),
        method=method,
        data=HOSTILE_BODY,
        headers={**bearer(key_for(role)), "Content-Type": "application/json"},
    )
    assert response.status_code < 500, (rule, response.get_json(silent=True))
    body = response.get_json(silent=True)
    if response.status_code == 400:
        fields = named_fields(body)
        assert fields & HOSTILE_FIELDS, (rule, body)
        assert fields <= HOSTILE_FIELDS, (rule, body)


def test_every_json_endpoint_refuses_them_before_anything_else(app: Flask, opa: Service) -> None:
    """The endpoints that read a JSON body say 400 and name every refused number."""
    client = app.test_client()
    reading = ["/route/plan", "/route/execute", "/policy/validate", "/policy/simulate", "/keys"]
    for path in reading:
        response = client.post(
            path,
            data=HOSTILE_BODY,
            headers={**bearer(ADMIN_KEY), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (path, response.get_json())
        assert named_fields(response.get_json()) == HOSTILE_FIELDS, path
    openai = client.post(
        "/v1/chat/completions",
        data='{"model": "auto", "messages": [], "temperature": NaN}',
        headers={**bearer(ADMIN_KEY), "Content-Type": "application/json"},
    )
    assert openai.status_code == 400
    assert openai.get_json()["error"]["param"] == "$.temperature"


@pytest.mark.parametrize(("rule", "method", "role"), READS, ids=lambda v: str(v))
def test_hostile_query_numbers_are_never_a_server_error(
    app: Flask, opa: Service, rule: str, method: str, role: Role
) -> None:
    client = app.test_client()
    with client.get(f"{concrete(rule)}?{HOSTILE_QUERY}", headers=bearer(key_for(role))) as got:
        status, body = got.status_code, got.get_json(silent=True)
    assert status < 500, (rule, body)
    if rule in PAGED:
        assert status == 400, (rule, body)


def test_an_integer_beyond_64_bits_inside_a_valid_request_is_named(
    app: Flask, opa: Service
) -> None:
    client = app.test_client()
    response = client.post(
        "/route/plan",
        data='{"task": "qa", "loa": 1, "estimated_tokens": 18446744073709551616}',
        headers={**bearer(ADMIN_KEY), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert named_fields(response.get_json()) == {"$.estimated_tokens"}
    assert "64-bit" in response.get_json()["errors"][0]["message"]
    # The largest 64-bit integer parses and meets the schema's own bound instead.
    bounded = client.post(
        "/route/plan",
        data='{"task": "qa", "loa": 1, "estimated_tokens": 9223372036854775807}',
        headers={**bearer(ADMIN_KEY), "Content-Type": "application/json"},
    )
    assert bounded.status_code == 400
    assert named_fields(bounded.get_json()) == {"$.estimated_tokens"}
