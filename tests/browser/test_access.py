"""Access control in a real Chromium: signing in and out, what each role is offered, the kill
switch's confirmation, and what a page of another origin can do with a signed-in browser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, Request, WebSocket, expect
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.conftest import (
    ForeignOrigin,
    dashboard_policy,
    foreign_origin,
    model_matrix,
    open_dashboard,
    sign_in,
    sign_in_with_form,
    watch,
)
from tests.support.keys import ADMIN_KEY, api, bearer
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.browser

SESSION_COOKIE = "symphony_session"
WRONG_KEY = "sym_not-a-key-0123456789abcdefghijklmnopqrstuvwxyzABCD"

# The roles each test key is created with, and what the dashboard must offer it (the server
# expands inclusions: governor brings operator; admin brings every role).
ROLE_KEYS = {
    "ops-only": ["operator"],
    "governor": ["governor"],
    "client-only": ["client"],
}
OFFERED = {
    #               planner matrix kill-switch policy audit  keys
    "ops-only": (False, True, True, False, True, False),
    "governor": (False, True, True, True, True, False),
    "client-only": (True, False, False, False, False, False),
    "admin": (True, True, True, True, True, True),
}
AREAS = ("planner", "matrix", "kill switch", "policy editor", "audit trail", "API keys")

# Opens a websocket to `url` and records in `window.__ws` what happened to it.
OPEN_SOCKET = """(url) => {
    window.__ws = {opened: false, messages: [], closed: null};
    const socket = new WebSocket(url);
    socket.onopen = () => { window.__ws.opened = true; };
    socket.onmessage = (event) => { window.__ws.messages.push(String(event.data)); };
    socket.onclose = (event) => { window.__ws.closed = event.code; };
}"""

# A fetch from the page: "<status> <body>" when it resolves, "<error name>: <message>" if not.
FETCH = """async ([url, init]) => {
    try {
        const response = await fetch(url, init);
        return `${response.status} ${await response.text()}`;
    } catch (error) {
        return `${error.name}: ${error.message}`;
    }
}"""


@pytest.fixture(scope="module")
def foreign() -> Iterator[ForeignOrigin]:
    """Pages of an origin the proxy does not allow."""
    with foreign_origin() as server:
        yield server


@pytest.fixture(scope="module")
def partner() -> Iterator[ForeignOrigin]:
    """Pages of an origin listed in SYMPHONY_ALLOWED_ORIGINS."""
    with foreign_origin() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, web_dist: Path, partner: ForeignOrigin
) -> Iterator[Stack]:
    """The browser stack, with `partner`'s origin allowed for CORS."""
    workdir = tmp_path_factory.mktemp("access")
    with running_stack(
        workdir,
        dashboard_policy(),
        SYMPHONY_WEB_DIST=str(web_dist),
        SYMPHONY_ALLOWED_ORIGINS=partner.origin(),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    """A key per ROLE_KEYS entry, created with the admin API; and the admin's own."""
    created = {"admin": ADMIN_KEY}
    for name, roles in ROLE_KEYS.items():
        response = api().post(f"{stack.url}/keys", json={"name": name, "roles": roles}, timeout=5)
        assert response.status_code == 201, response.text
        created[name] = response.json()["key"]
    return created


def kill_switch(stack: Stack) -> dict[str, Any]:
    """The kill switch as the server reports it."""
    state: dict[str, Any] = api().get(f"{stack.url}/controls/kill-switch", timeout=5).json()
    return state


def audit_events(stack: Stack, kind: str) -> list[dict[str, Any]]:
    """The audit events of `kind`, newest first."""
    response = api().get(f"{stack.url}/audit", params={"kind": kind}, timeout=5)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def refusals(stack: Stack, reason: str) -> float:
    """How many requests access control refused for `reason`, from the proxy's /metrics."""
    text = requests.get(f"{stack.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "symphony_auth_failures_total"
                and sample.labels.get("reason") == reason
            ):
                return float(sample.value)
    return 0.0


def session_cookie(page: Page, stack: Stack) -> dict[str, Any]:
    """The proxy's session cookie in the page's browser context."""
    found = [c for c in page.context.cookies(stack.url) if c.get("name") == SESSION_COOKIE]
    assert len(found) == 1, page.context.cookies()
    return dict(found[0])


def policy_state(stack: Stack) -> tuple[Any, Any]:
    """(active version, revision count): what a policy write would change."""
    active = api().get(f"{stack.url}/policy", timeout=5).json()
    history = api().get(f"{stack.url}/policy/history", timeout=5).json()
    return active["version"], json.dumps(history, sort_keys=True)


# Signing in and out


def test_a_wrong_key_shows_the_servers_error_and_nothing_of_the_dashboard(
    page: Page, stack: Stack
) -> None:
    asked: list[str] = []
    sockets: list[WebSocket] = []
    page.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
    page.on("websocket", lambda socket: sockets.append(socket))
    page.goto(stack.url + "/")
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("API key").fill(WRONG_KEY)
    with page.expect_response(
        lambda r: r.url == f"{stack.url}/session" and r.request.method == "POST"
    ) as answer:
        form.get_by_role("button", name="Sign in").click()

    assert answer.value.status == 401
    message = answer.value.json()["message"]
    expect(form.get_by_role("alert")).to_have_text(message)
    expect(form.get_by_label("API key")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    expect(page.get_by_role("heading", level=2)).to_have_count(0)
    expect(page.locator("[data-kill-switch]")).to_have_count(0)
    assert page.context.cookies(stack.url) == []
    # Nothing of the dashboard was even asked for: the page, its assets and /session only.
    api_calls = [
        call for call in asked if "/assets/" not in call and not call.endswith(f"{stack.url}/")
    ]
    assert api_calls == [f"GET {stack.url}/session", f"POST {stack.url}/session"]
    assert sockets == []


def test_sign_in_shows_the_key_name_and_sign_out_ends_the_session(page: Page, stack: Stack) -> None:
    sign_in_with_form(page, stack, ADMIN_KEY)
    expect(page.get_by_test_id("signed-in-as")).to_have_text("admin")
    expect(model_matrix(page)).to_be_visible()
    cookie = session_cookie(page, stack)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    expect(model_matrix(page)).to_have_count(0)
    assert page.evaluate("fetch('/session').then((r) => r.status)") == 401
    # Ended on the server, not only forgotten by the browser: the old cookie opens nothing.
    replayed = requests.get(
        f"{stack.url}/session", cookies={SESSION_COOKIE: cookie["value"]}, timeout=5
    )
    assert replayed.status_code == 401
    page.reload()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()


# What each role is offered


@pytest.mark.parametrize("name", list(OFFERED))
def test_each_role_is_offered_only_what_it_may_do(
    page: Page, stack: Stack, keys: dict[str, str], name: str
) -> None:
    problems = watch(page)
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    sign_in_with_form(page, stack, keys[name])
    expect(page.get_by_test_id("signed-in-as")).to_have_text(name)

    areas = {
        "planner": page.get_by_role("form", name="Runbook planner"),
        "matrix": page.get_by_role("heading", name="Model matrix", exact=True),
        "kill switch": page.locator("[data-kill-switch]"),
        "policy editor": page.get_by_label("Policy document (JSON)"),
        "audit trail": page.get_by_role("heading", name="Audit trail", exact=True),
        "API keys": page.get_by_role("heading", name="API keys", exact=True),
    }
    offered = dict(zip(AREAS, OFFERED[name], strict=True))
    for area, locator in areas.items():
        expect(locator, f"{area} for {name}").to_have_count(1 if offered[area] else 0)
    if not offered["matrix"]:
        expect(page.get_by_role("note", name="What this key can do")).to_be_visible()

    # Wait for what the role loads, then: nothing it may not do was even requested.
    if offered["matrix"]:
        expect(model_matrix(page).locator('[role="row"][data-id]').first).to_be_visible(
            timeout=10_000
        )
        expect(page.locator("[data-connection]")).to_have_attribute("data-connection", "open")
    if offered["policy editor"]:
        expect(areas["policy editor"]).not_to_have_value("")
    if offered["planner"]:
        planner = page.get_by_role("form", name="Runbook planner")
        planner.get_by_label("Task").fill("qa")
        planner.get_by_role("button", name="Plan").click()
        expect(page.get_by_test_id("explain-drawer")).to_be_visible()
    assert len(sockets) == (1 if offered["matrix"] else 0)
    # The 401 is the signed-out page asking who is signed in, before the form was used.
    assert problems.failed_responses == [f"401 {stack.url}/session"]


# The kill switch


def test_kill_switch_asks_for_a_reason_and_the_audit_trail_records_it(
    page: Page, stack: Stack
) -> None:
    dashboard = open_dashboard(page, stack)
    holder = page.locator("[data-kill-switch]")
    expect(holder).to_have_attribute("data-kill-switch", "false")
    reason = "browser test: upstream returns garbage"
    try:
        page.get_by_label("Kill switch", exact=True).click()
        dialog = page.get_by_role("dialog", name="Turn the kill switch on?")
        confirm = dialog.get_by_role("button", name="Confirm")
        expect(confirm).to_be_disabled()
        dialog.get_by_label("Reason").fill("   ")
        expect(confirm).to_be_disabled()
        dialog.get_by_label("Reason").fill(reason)
        expect(confirm).to_be_enabled()
        confirm.click()
        expect(dialog).to_be_hidden()
        expect(holder).to_have_attribute("data-kill-switch", "true")
        state = kill_switch(stack)
        assert state["kill_switch"] is True
        assert (state["updated_by"], state["reason"]) == ("admin", reason)

        trail = page.get_by_role("region", name="Audit trail")
        trail.get_by_role("button", name="Apply filters").click()  # doubles as refresh
        row = trail.get_by_role("row").filter(has_text=reason)
        expect(row).to_have_count(1)
        expect(row.locator('[data-field="kind"]')).to_have_text("kill_switch")
        expect(row.locator('[data-field="actor"]')).to_have_text("admin")
        expect(row.locator('[data-field="subject"]')).to_have_text("on")
        newest = audit_events(stack, "kill_switch")[0]
        assert newest["actor"] == "admin" and newest["detail"] == {"on": True, "reason": reason}
    finally:
        api().put(
            f"{stack.url}/controls/kill-switch",
            json={"on": False, "reason": "browser test: restore"},
            timeout=5,
        ).raise_for_status()
    expect(holder).to_have_attribute("data-kill-switch", "false")
    assert dashboard.problems.all() == []


def test_cancelling_the_kill_switch_dialog_changes_nothing(page: Page, stack: Stack) -> None:
    open_dashboard(page, stack)
    before = kill_switch(stack)
    recorded = audit_events(stack, "kill_switch")
    holder = page.locator("[data-kill-switch]")
    expect(holder).to_have_attribute("data-kill-switch", str(before["kill_switch"]).lower())

    page.get_by_label("Kill switch", exact=True).click()
    dialog = page.get_by_role("dialog", name="Turn the kill switch on?")
    dialog.get_by_label("Reason").fill("browser test: changed my mind")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    expect(holder).to_have_attribute("data-kill-switch", str(before["kill_switch"]).lower())
    assert kill_switch(stack) == before
    assert audit_events(stack, "kill_switch") == recorded


# Another origin, with the victim's browser signed in


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["same-site", "cross-site"])
def test_a_foreign_page_cannot_open_the_event_socket(
    page: Page, stack: Stack, foreign: ForeignOrigin, host: str
) -> None:
    sign_in(page, stack)
    events_url = stack.url.replace("http://", "ws://") + "/events"
    script = f"({OPEN_SOCKET})({json.dumps(events_url)});"
    refused = refusals(stack, "origin")
    page.goto(foreign.serve("/socket.html", f"<!doctype html><script>{script}</script>", host))
    page.wait_for_function("() => window.__ws.closed !== null", timeout=10_000)
    outcome = page.evaluate("window.__ws")
    assert outcome == {"opened": False, "messages": [], "closed": 1006}
    assert refusals(stack, "origin") == refused + 1

    # The same script in the dashboard's own origin, with the same cookie, does connect.
    open_dashboard(page, stack)
    page.evaluate(OPEN_SOCKET, events_url)
    page.wait_for_function("() => window.__ws.messages.length > 0", timeout=10_000)
    outcome = page.evaluate("window.__ws")
    assert outcome["opened"] is True and outcome["closed"] is None
    assert json.loads(outcome["messages"][0])["type"] == "hello"


def test_a_foreign_page_cannot_write_even_with_a_key_but_an_allowed_origin_can_call(
    page: Page, stack: Stack, foreign: ForeignOrigin, partner: ForeignOrigin
) -> None:
    before = policy_state(stack)
    put = {
        "method": "PUT",
        "headers": {**bearer(), "Content-Type": "application/json"},
        "body": "{}",
    }
    page.goto(foreign.serve("/blank.html", "<!doctype html><title>elsewhere</title>"))
    outcome = page.evaluate(FETCH, [f"{stack.url}/policy", put])
    assert outcome == "TypeError: Failed to fetch"
    assert policy_state(stack) == before

    # The same call from the allowed origin passes the preflight and reads the answer.
    page.goto(partner.serve("/blank.html", "<!doctype html><title>partner</title>"))
    outcome = page.evaluate(FETCH, [f"{stack.url}/policy", put])
    status, _, body = outcome.partition(" ")
    assert status == "428", outcome  # a real answer: the write needs If-Match
    assert json.loads(body)["error"] == "precondition_required"
    assert policy_state(stack) == before


def test_preflights_answer_only_the_allowed_origin_and_never_a_wildcard(
    stack: Stack, foreign: ForeignOrigin, partner: ForeignOrigin
) -> None:
    def preflight(origin: str) -> requests.Response:
        return requests.options(
            f"{stack.url}/policy",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization,content-type,if-match",
            },
            timeout=5,
        )

    for origin in (foreign.origin(), foreign.origin("localhost"), "null"):
        refused = preflight(origin)
        assert refused.status_code == 403, origin
        assert refused.json()["error"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in refused.headers

    allowed = preflight(partner.origin())
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == partner.origin()
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"].split(", ")
    assert "If-Match" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Origin" in allowed.headers["Vary"]
    # Cross-origin callers use keys: a cookie never rides along on a CORS call.
    assert "Access-Control-Allow-Credentials" not in allowed.headers


def test_a_foreign_page_cannot_use_the_session_cookie_to_write(
    page: Page, stack: Stack, foreign: ForeignOrigin
) -> None:
    sign_in(page, stack)
    before = kill_switch(stack)
    page.goto(foreign.serve("/blank.html", "<!doctype html><title>elsewhere</title>"))
    outcome = page.evaluate(
        FETCH,
        [
            f"{stack.url}/controls/kill-switch",
            {
                "method": "PUT",
                "credentials": "include",
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"on": True, "reason": "forged"}),
            },
        ],
    )
    assert outcome == "TypeError: Failed to fetch"
    assert kill_switch(stack) == before

    # A form needs no preflight, and this one is same-site: the browser sends the cookie.
    forged = json.dumps({"name": "forged", "roles": ["admin"], "pad": ""})[:-2]
    form = (
        '<!doctype html><form method="post" enctype="text/plain" action="{action}">'
        "<input type=\"hidden\" name='{name}' value='\"}}'></form>"
        "<script>document.forms[0].submit();</script>"
    ).format(action=f"{stack.url}/keys", name=forged)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if "/keys" in request.url else None)
    with page.expect_response(f"{stack.url}/keys") as answer:
        page.goto(foreign.serve("/forged.html", form))
    assert sent[0].method == "POST"
    assert f"{SESSION_COOKIE}=" in (sent[0].all_headers().get("cookie") or "")
    assert answer.value.status == 403
    assert answer.value.json()["error"] == "origin_not_allowed"
    names = [k["name"] for k in api().get(f"{stack.url}/keys", timeout=5).json()["keys"]]
    assert "forged" not in names


def test_a_same_origin_write_without_the_csrf_header_is_refused(page: Page, stack: Stack) -> None:
    session = sign_in(page, stack)
    page.goto(stack.url + "/")
    expect(page.get_by_test_id("signed-in-as")).to_have_text("admin")
    before = kill_switch(stack)
    init: dict[str, Any] = {
        "method": "PUT",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"on": True, "reason": "browser test: no token"}),
    }
    status, _, body = page.evaluate(FETCH, ["/controls/kill-switch", init]).partition(" ")
    assert status == "403"
    assert json.loads(body)["error"] == "csrf_failed"
    assert kill_switch(stack) == before

    # With the session's token the same call goes through: the header was the only thing missing.
    init["headers"]["X-CSRF-Token"] = session["csrf_token"]
    try:
        status, _, body = page.evaluate(FETCH, ["/controls/kill-switch", init]).partition(" ")
        assert status == "200", body
        assert kill_switch(stack)["kill_switch"] is True
    finally:
        api().put(
            f"{stack.url}/controls/kill-switch",
            json={"on": False, "reason": "browser test: restore"},
            timeout=5,
        ).raise_for_status()
