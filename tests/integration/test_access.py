"""Access control, generated from the route map: every endpoint, with no key, a wrong-role
key and a right-role key; plus sessions, CSRF, origins, CORS, keys and the failure limit."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.api.access import route_roles
from app.core.identity import Role
from app.settings import Settings
from tests.support.keys import ADMIN_KEY, bearer, signed_in
from tests.support.processes import ROOT

SAMPLE_VALUES = {
    "audit_id": "run_20260101T000000Z_0123456789ab",
    "int:number": "1",
    "name": "pii",
    "key_id": "key_000000000000",
    "path:name": "index.js",
    "partition": "symphony",
    "path:rest": "unknown",
    "decision_id": "00000000-0000-0000-0000-000000000000",
    "job_id": "job_20260101T000000Z_0123456789ab",
}
# A key holding only this role must be refused where that role is not enough.
WRONG_ROLE = {
    Role.CLIENT: Role.OPERATOR,
    Role.OPERATOR: Role.CLIENT,
    Role.GOVERNOR: Role.OPERATOR,
    Role.ADMIN: Role.GOVERNOR,
    Role.SIDECAR: Role.ADMIN,
    Role.ALERTMANAGER: Role.ADMIN,
}
AUTH_ERRORS = {"unauthenticated", "forbidden", "csrf_failed", "origin_not_allowed"}


def error_code(body: Any) -> str | None:
    """The error code of Symphony's error body, or of OpenAI's (under /v1/)."""
    error = (body or {}).get("error")
    return error.get("code") if isinstance(error, dict) else error


def concrete(rule: str) -> str:
    """A request path for a route template."""
    return re.sub(r"<([^>]+)>", lambda m: SAMPLE_VALUES[m.group(1)], rule)


def role_keys(client: FlaskClient) -> dict[Role, str]:
    """One key per grantable role, each holding that role alone."""
    keys = {}
    for role in (
        Role.CLIENT,
        Role.OPERATOR,
        Role.GOVERNOR,
        Role.ADMIN,
        Role.SIDECAR,
        Role.ALERTMANAGER,
    ):
        created = client.post("/keys", json={"name": f"only-{role}", "roles": [str(role)]})
        assert created.status_code == 201, created.get_json()
        keys[role] = created.get_json()["key"]
    return keys


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def call(app: Flask, method: str, path: str, key: str | None) -> tuple[int, Any]:
    """One request; the websocket route is asked for an upgrade, as browsers do."""
    client = app.test_client()
    headers = {**(bearer(key) if key else {}), **(UPGRADE if path == "/events" else {})}
    body: Any = None if method == "GET" else {}
    with client.open(path, method=method, json=body, headers=headers) as response:
        return response.status_code, response.get_json(silent=True)


def every_route() -> list[tuple[str, str, Role | None]]:
    """(rule, method, role) of every route of a freshly built app: the table the access
    test is generated from, so a new endpoint is tested (and must declare a role) at once."""
    scratch = Settings(data_dir=Path(tempfile.mkdtemp()) / "data", background_jobs=False)
    app = create_app({"TESTING": True, "SETTINGS": scratch})
    return [(rule, method, role) for rule, methods, role in route_roles(app) for method in methods]


ROUTES = every_route()


def test_every_route_declares_one_role_and_docs_list_it() -> None:
    documented = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for rule, method, role in ROUTES:
        assert role is not None, f"{method} {rule} declares no role"
        row = re.search(rf"^\| `{method} {re.escape(rule)}` \| `?(\w+)`? \|", documented, re.M)
        assert row is not None, f"docs/api.md does not list `{method} {rule}`"
        assert row.group(1) == str(role), f"docs/api.md gives {method} {rule} another role"


@pytest.mark.parametrize(("rule", "method", "role"), ROUTES, ids=lambda v: str(v))
def test_each_endpoint_with_no_key_a_wrong_key_and_the_right_key(
    app: Flask, rule: str, method: str, role: Role
) -> None:
    keys = role_keys(signed_in(app))
    path = concrete(rule)
    status, body = call(app, method, path, None)
    if role is Role.PUBLIC:
        assert status != 403 or error_code(body) not in AUTH_ERRORS
        return
    assert (status, error_code(body)) == (401, "unauthenticated")
    status, body = call(app, method, path, "sym_not-a-key-" + "x" * 40)
    assert (status, error_code(body)) == (401, "unauthenticated")
    status, body = call(app, method, path, keys[WRONG_ROLE[role]])
    assert (status, error_code(body)) == (403, "forbidden")
    assert str(role) in json.dumps(body)  # the required role is named
    status, body = call(app, method, path, keys[role])
    assert status not in (401, 403) or error_code(body) not in AUTH_ERRORS, body


def test_roles_include_the_roles_below_them(app: Flask) -> None:
    keys = role_keys(signed_in(app))
    # admin includes everything but the sidecar's; governor includes operator.
    assert call(app, "GET", "/controls/kill-switch", keys[Role.GOVERNOR])[0] == 200
    assert call(app, "GET", "/policy", keys[Role.ADMIN])[0] == 200
    assert call(app, "GET", "/keys", keys[Role.GOVERNOR])[0] == 403
    assert call(app, "GET", "/policy", keys[Role.OPERATOR])[0] == 403


def test_keys_are_hashed_revocable_and_expire(app: Flask, settings: Settings) -> None:
    admin = signed_in(app)
    created = admin.post(
        "/keys", json={"name": "gov-team", "roles": ["governor"], "team": "research"}
    ).get_json()
    key = created.pop("key")
    assert created["roles"] == ["governor"] and created["team"] == "research"
    assert created["created_by"] == "admin"
    assert call(app, "GET", "/policy", key)[0] == 200
    stored = (settings.data_dir / "symphony.db").read_bytes()
    assert key.encode() not in stored and ADMIN_KEY.encode() not in stored
    listed = admin.get("/keys").get_json()["keys"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine and mine["last_used_at"] is not None
    duplicate = admin.post("/keys", json={"name": "gov-team", "roles": ["governor"]})
    assert duplicate.status_code == 400 and duplicate.get_json()["errors"][0]["field"] == "$.name"
    bad_role = admin.post("/keys", json={"name": "x", "roles": ["root"]})
    assert bad_role.status_code == 400 and "unknown role" in bad_role.get_json()["message"]
    past = admin.post(
        "/keys", json={"name": "old", "roles": ["client"], "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert past.status_code == 400 and past.get_json()["errors"][0]["field"] == "$.expires_at"
    revoked = admin.delete(f"/keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    # Revocation reaches every proxy through the store within the lookup cache (2 s).
    fresh = create_app({"TESTING": True, "SETTINGS": settings})
    assert call(fresh, "GET", "/policy", key)[0] == 401
    assert admin.delete("/keys/key_doesnotexist").status_code == 404
    kinds = [e["kind"] for e in admin.get("/audit?kind=key.revoked").get_json()["events"]]
    assert kinds == ["key.revoked"]


def test_the_first_start_writes_an_admin_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", background_jobs=False)
    app = create_app({"TESTING": True, "SETTINGS": settings})
    admin_file = tmp_path / "data" / "admin.key"
    sidecar_file = tmp_path / "data" / "sidecar.key"
    alertmanager_file = tmp_path / "data" / "alertmanager.key"
    for path in (admin_file, sidecar_file, alertmanager_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = admin_file.read_text().strip()
    assert call(app, "GET", "/keys", key)[0] == 200
    sidecar = sidecar_file.read_text().strip()
    assert call(app, "GET", "/keys", sidecar)[0] == 403
    # A second start creates no second admin key and keeps the sidecar's.
    again = create_app({"TESTING": True, "SETTINGS": settings})
    names = sorted(k["name"] for k in signed_in_with(again, key).get("/keys").get_json()["keys"])
    assert names == ["admin", "alertmanager", "sidecar"]
    assert admin_file.read_text().strip() == key


def signed_in_with(app: Flask, key: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def test_the_recorded_actor_is_the_key_not_a_header(app: Flask) -> None:
    admin = signed_in(app)
    key = admin.post("/keys", json={"name": "ops-anna", "roles": ["operator"]}).get_json()["key"]
    client = signed_in_with(app, key)
    response = client.put(
        "/controls/kill-switch",
        json={"on": True, "reason": "drill"},
        headers={"X-Symphony-Actor": "somebody-else", "X-Request-Id": "req-7"},
    )
    assert response.get_json()["updated_by"] == "ops-anna"
    event = admin.get("/audit?actor=ops-anna&kind=kill_switch").get_json()["events"][0]
    assert (event["request_id"], event["detail"]) == ("req-7", {"on": True, "reason": "drill"})
    assert event["before_hash"] != event["after_hash"]
    missing = client.put("/controls/kill-switch", json={"on": False})
    assert missing.status_code == 400 and missing.get_json()["errors"][0]["field"] == "$.reason"
    assert client.get("/controls/kill-switch").get_json()["kill_switch"] is True


def test_a_session_needs_its_csrf_token_for_writes_and_ends_on_logout(app: Flask) -> None:
    browser = app.test_client()
    assert browser.get("/session").status_code == 401
    wrong = browser.post("/session", json={"key": "sym_wrong-" + "y" * 40})
    assert wrong.status_code == 401
    opened = browser.post("/session", json={"key": ADMIN_KEY})
    assert opened.status_code == 200
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    csrf = opened.get_json()["csrf_token"]
    assert browser.get("/session").get_json()["name"] == "admin"
    assert browser.get("/controls/kill-switch").status_code == 200
    body = {"on": True, "reason": "csrf test"}
    refused = browser.put("/controls/kill-switch", json=body)
    assert (refused.status_code, refused.get_json()["error"]) == (403, "csrf_failed")
    forged = browser.put("/controls/kill-switch", json=body, headers={"X-CSRF-Token": "guess"})
    assert forged.status_code == 403
    assert browser.get("/controls/kill-switch").get_json()["kill_switch"] is False
    cross = browser.put(
        "/controls/kill-switch",
        json=body,
        headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
    )
    assert (cross.status_code, cross.get_json()["error"]) == (403, "origin_not_allowed")
    allowed = browser.put("/controls/kill-switch", json=body, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 200
    assert browser.delete("/session").status_code == 403  # logout needs the token too
    assert browser.delete("/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get("/session").status_code == 401
    assert browser.get("/controls/kill-switch").status_code == 401
    kinds = {e["kind"] for e in signed_in(app).get("/audit").get_json()["events"]}
    assert {"session.login", "session.login_failed", "session.logout"} <= kinds


def test_cors_answers_only_listed_origins_and_never_a_wildcard(settings: Settings) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SETTINGS": replace(settings, allowed_origins=("https://ops.example",)),
        }
    )
    client = app.test_client()
    preflight = {"Access-Control-Request-Method": "PUT"}
    evil = client.options("/policy", headers={**preflight, "Origin": "http://evil.example"})
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers
    ok = client.options("/policy", headers={**preflight, "Origin": "https://ops.example"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ops.example"
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    listed = client.get("/policy", headers={**bearer(), "Origin": "https://ops.example"})
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == "https://ops.example"
    unlisted = client.get("/policy", headers={**bearer(), "Origin": "http://evil.example"})
    assert unlisted.status_code == 403 and "Access-Control-Allow-Origin" not in unlisted.headers
    # A listed origin calls with a key; the dashboard's session cookie is not enough.
    client.post("/session", json={"key": ADMIN_KEY})
    with_cookie = client.get("/events", headers={**UPGRADE, "Origin": "https://ops.example"})
    assert (with_cookie.status_code, with_cookie.get_json()["error"]) == (
        403,
        "origin_not_allowed",
    )
    assert client.get("/policy", headers={"Origin": "https://ops.example"}).status_code == 403


def test_a_cross_site_websocket_is_refused_before_the_upgrade(app: Flask) -> None:
    client = app.test_client()
    upgrade = UPGRADE
    client.post("/session", json={"key": ADMIN_KEY})
    evil = client.get("/events", headers={**upgrade, "Origin": "http://evil.example"})
    assert (evil.status_code, evil.get_json()["error"]) == (403, "origin_not_allowed")
    anonymous = app.test_client().get("/events", headers={**upgrade, "Origin": "http://localhost"})
    assert anonymous.status_code == 401


def test_failed_authentications_are_limited_per_address_and_counted(settings: Settings) -> None:
    app = create_app(
        {"TESTING": True, "SETTINGS": replace(settings, auth_failure_limit="3/minute")}
    )
    client = app.test_client()
    statuses = [
        client.get("/policy", headers=bearer(f"sym_guess-{i:02d}" + "z" * 40)).status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    # Over the limit, even the right key waits: a guesser learns nothing more.
    assert client.get("/policy", headers=bearer()).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    assert other.get("/policy", headers=bearer()).status_code == 200
    metrics = other.get("/metrics").get_data(as_text=True)
    assert 'symphony_auth_failures_total{reason="unknown"} 3.0' in metrics
    assert 'symphony_auth_failures_total{reason="rate_limited"} 3.0' in metrics


def test_the_policy_sees_the_callers_name_roles_and_team(app: Flask) -> None:
    from app.core.policy_input import build_input

    admin = signed_in(app)
    key = admin.post(
        "/keys", json={"name": "lab", "roles": ["client"], "team": "research"}
    ).get_json()["key"]
    services = app.extensions["symphony"]
    with app.test_request_context(headers=bearer(key)):
        from app.api.access import AccessControl

        access: AccessControl = app.extensions["symphony.access"]
        caller = access.identify_optional()
        assert caller is not None
        request = services.requests.parse({"task": "qa", "loa": 1}, caller.as_input())
    opa_input = build_input(request, {}, frozenset(), 0.0, False)
    assert opa_input["client"] == {"name": "lab", "roles": ["client"], "team": "research"}


def test_the_cli_creates_lists_and_revokes_keys(tmp_path: Path) -> None:
    env = {**os.environ, "SYMPHONY_DATA_DIR": str(tmp_path / "data")}

    def symphony(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    created = symphony("keys", "create", "--role", "governor", "--name", "gov-team", "--json")
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    assert record["key"].startswith("sym_") and record["roles"] == ["governor"]
    listed = symphony("keys", "list")
    assert "gov-team" in listed.stdout and record["key"] not in listed.stdout
    assert symphony("keys", "revoke", record["id"]).returncode == 0
    assert "revoked" in symphony("keys", "list").stdout
    bad = symphony("keys", "create", "--role", "root", "--name", "x")
    assert bad.returncode != 0
    settings = Settings(data_dir=tmp_path / "data", background_jobs=False)
    app = create_app({"TESTING": True, "SETTINGS": settings})
    assert call(app, "GET", "/policy", record["key"])[0] == 401
