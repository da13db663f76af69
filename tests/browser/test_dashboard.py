"""The operator dashboard in a real Chromium against a running proxy, OPA and upstream."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Dashboard,
    closed_all_day,
    dashboard_policy,
    decision_record,
    drawer_field,
    execute,
    model,
    open_dashboard,
    plan,
    reason_detail,
)
from tests.support.keys import api
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.browser

POLICY_MODELS = [m["name"] for m in dashboard_policy()["models"]]
# Fixed usage per beta call: 170 tokens at $1 per 1k = $0.17 of its $1.00 cap.
BETA_TOKENS = {"prompt_tokens": 85, "completion_tokens": 85}


def rpm(dashboard: Dashboard, model_id: str) -> int:
    """The RPM the matrix shows for `model_id` right now."""
    text = dashboard.row(model_id).locator('[data-field="rpm"]').inner_text()
    return int(text.split("/")[0])


def test_matrix_shows_the_policys_models_and_updates_after_traffic(dashboard: Dashboard) -> None:
    page = dashboard.page
    ids = dashboard.matrix.locator('[role="row"][data-id]')
    expect(ids).to_have_count(len(POLICY_MODELS))
    assert sorted(ids.evaluate_all("rows => rows.map(r => r.dataset.id)")) == sorted(POLICY_MODELS)
    alpha = dashboard.row("hosted/alpha")
    expect(alpha.locator('[data-field="class"]')).to_have_text("hosted")
    expect(alpha.locator('[data-field="window"]')).to_contain_text("open")
    expect(alpha.locator('[data-field="healthy"]')).to_have_text("healthy")

    before = rpm(dashboard, "hosted/alpha")
    for i in range(3):
        assert execute(dashboard.stack, "qa", f"traffic {i}")["model"] == "hosted/alpha"

    # No reload: the next model_stats messages carry the new counts.
    expect(alpha.locator('[data-field="rpm"]')).to_have_text(f"{before + 3} / 1k", timeout=10_000)
    expect(alpha.locator('[data-field="p95ms"]')).to_have_text(re.compile(r"^\d+ ms$"))
    feed = page.get_by_role("log", name="Live decisions and alerts")
    expect(feed.locator('[data-kind="decision"]')).to_have_count(3, timeout=10_000)
    expect(feed.locator('[data-kind="decision"]').first).to_contain_text("hosted/alpha")


def test_plan_opens_the_drawer_with_every_reason_and_the_trace(dashboard: Dashboard) -> None:
    page = dashboard.page
    planner = page.get_by_role("form", name="Runbook planner")
    planner.get_by_label("Task").fill("code")
    planner.get_by_role("button", name="Plan").click()

    drawer = page.get_by_test_id("explain-drawer")
    expect(drawer).to_have_attribute("data-record", "loaded")
    expect(drawer_field(drawer, "Winning rule")).to_have_text("code-after-hours")
    expect(drawer_field(drawer, "Model")).to_have_text("hosted/alpha")
    decision_id = drawer_field(drawer, "Decision id").inner_text()
    recorded = decision_record(dashboard.stack, decision_id)["decision"]
    reasons = drawer.get_by_role("list", name="Candidate reasons")
    closed = reasons.locator('[data-model="hosted/delta"]')
    expect(closed).to_have_attribute("data-reason", "window_closed")
    # The sentence the server gave (it names the window, and when it opens next).
    expect(closed).to_contain_text(reason_detail(recorded, "hosted/delta"))
    expect(reasons.locator('[data-model="hosted/alpha"]')).to_have_attribute(
        "data-reason", "chosen"
    )
    expect(drawer.get_by_text("No run: this decision was not executed.")).to_be_visible()
    # The plan's notes, then the full trace of replaying the recorded decision.
    trace = drawer.get_by_role("list", name="OPA trace")
    expect(trace.locator(".trace-location").first).to_have_text(re.compile(r"\.rego:\d+$"))
    expect(trace).to_contain_text("Note")
    notes = trace.locator("li").count()
    dashboard.screenshot("explain-drawer", full_page=False)

    drawer.get_by_role("button", name="Full trace", exact=True).click()
    expect(drawer.get_by_role("button", name="Full trace shown")).to_be_disabled()
    expect(
        drawer.get_by_role("heading", name=re.compile(r"^OPA full trace \(\d+ lines\)"))
    ).to_be_visible()
    expect(drawer.get_by_test_id("replay-equal")).to_have_attribute("data-equal", "true")
    expect(trace.locator("li").nth(notes + 10)).to_be_attached()


def test_execute_streams_text_into_the_log_pane(dashboard: Dashboard) -> None:
    page = dashboard.page
    reply = "Good morning operators, every route is green and every budget is fine today."
    dashboard.stack.upstream.update("alpha", text=reply, chunks=6, chunk_delay_s=0.25)
    try:
        log = page.get_by_role("log", name="Execution log")
        # Every text the pane shows, in order, recorded inside the page as it changes.
        log.evaluate(
            """(pane) => {
                window.__logTexts = [];
                new MutationObserver(() => window.__logTexts.push(pane.textContent))
                    .observe(pane, {subtree: true, childList: true, characterData: true});
            }"""
        )
        planner = page.get_by_role("form", name="Runbook planner")
        planner.get_by_label("Task").fill("qa")
        expect(planner.get_by_label("Stream the answer")).to_be_checked()
        planner.get_by_role("button", name="Execute").click()

        summary = page.get_by_role("group", name="Run summary")
        expect(summary).to_be_visible(timeout=15_000)
        expect(log).to_have_text(reply)
        texts = [t.replace("▍", "") for t in page.evaluate("window.__logTexts")]
        partial = [t for t in texts if t and t != reply and reply.startswith(t)]
        assert len(set(partial)) >= 2, f"no partial text was shown while streaming: {texts}"

        audit_id = summary.get_attribute("data-audit-id")
        assert audit_id
        expect(summary).to_contain_text("hosted/alpha")
        expect(summary).to_contain_text(re.compile(r"\d+ in · \d+ out"))
        expect(summary).to_contain_text("$")
        expect(summary.locator('[data-outcome="ok"]')).to_have_count(1)
        report = api().get(f"{dashboard.url}/runs/{audit_id}", timeout=5)
        assert report.status_code == 200
    finally:
        dashboard.stack.upstream.restore("alpha")


def test_invalid_policy_edit_shows_the_field_error_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    page = dashboard.page
    before = api().get(f"{dashboard.url}/policy", timeout=5).json()
    history = api().get(f"{dashboard.url}/policy/history", timeout=5).json()
    editor = page.get_by_label("Policy document (JSON)")
    expect(editor).to_have_value(re.compile('"hosted/alpha"'))

    text = editor.input_value()
    editor.fill(text.replace('"rpm_cap": 1000', '"rpm_cap": 0', 1))
    page.get_by_role("button", name="Save").click()

    errors = page.get_by_role("list", name="Field errors")
    expect(errors.locator('[data-field="$.models[0].rpm_cap"]')).to_contain_text("minimum")
    expect(
        page.get_by_text(f"Nothing was saved: version {before['version']} is still active.")
    ).to_be_visible()
    expect(page.locator("[data-active-version]")).to_have_attribute(
        "data-active-version", str(before["version"])
    )
    dashboard.screenshot("policy-invalid", of=page.locator("#policy"))

    after = api().get(f"{dashboard.url}/policy", timeout=5).json()
    assert after["version"] == before["version"]
    assert after["document"] == before["document"]
    assert api().get(f"{dashboard.url}/policy/history", timeout=5).json() == history

    editor.fill(text[:-10])
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_text(re.compile("The JSON does not parse"))).to_be_visible()


def test_a_save_after_someone_else_saved_shows_the_conflict_and_reloads_the_latest(
    dashboard: Dashboard,
) -> None:
    page = dashboard.page
    editor = page.get_by_label("Policy document (JSON)")
    expect(editor).to_have_value(re.compile('"hosted/alpha"'))
    mine = json.loads(editor.input_value())
    # Someone else saves first, through the API, from the revision the editor loaded.
    current = api().get(f"{dashboard.url}/policy", timeout=5).json()
    theirs = {**current["document"], "version": "saved-elsewhere"}
    other = api().put(
        f"{dashboard.url}/policy", json=theirs, headers={"If-Match": current["etag"]}, timeout=30
    )
    assert other.status_code == 200
    editor.fill(json.dumps({**mine, "version": "saved-here"}, indent=2))
    page.get_by_role("button", name="Save").click()

    notice = page.get_by_role("alert").filter(has_text="The policy changed while you were editing")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Nothing was saved")
    assert api().get(f"{dashboard.url}/policy", timeout=5).json()["label"] == "saved-elsewhere"
    page.get_by_role("button", name="Reload latest").click()
    expect(editor).to_have_value(re.compile('"saved-elsewhere"'))


def test_a_rejected_request_shows_the_servers_field_errors(dashboard: Dashboard) -> None:
    page = dashboard.page
    planner = page.get_by_role("form", name="Runbook planner")
    planner.get_by_label("Task").fill("Not A Task!")
    planner.get_by_role("button", name="Plan").click()
    notice = page.locator('[data-error="invalid_request"]')
    expect(notice).to_contain_text("400")
    expect(notice.locator('[data-field="$.task"]')).to_be_visible()
    expect(notice).to_contain_text("Nothing was planned.")
    expect(page.get_by_test_id("explain-drawer")).to_be_hidden()


def test_kill_switch_changes_after_a_confirmed_reason_and_shows_the_servers_state(
    dashboard: Dashboard,
) -> None:
    page = dashboard.page
    holder = page.locator("[data-kill-switch]")
    expect(holder).to_have_attribute("data-kill-switch", "false")
    reason = "browser test: the upstream is misbehaving"
    try:
        page.get_by_label("Kill switch", exact=True).click()
        dialog = page.get_by_role("dialog", name="Turn the kill switch on?")
        dialog.get_by_label("Reason").fill(reason)
        dialog.get_by_role("button", name="Confirm").click()
        expect(dialog).to_be_hidden()
        expect(holder).to_have_attribute("data-kill-switch", "true")
        state = api().get(f"{dashboard.url}/controls/kill-switch", timeout=5).json()
        assert state["kill_switch"] is True
        assert state["updated_by"] == "admin"
        assert state["reason"] == reason
    finally:
        api().put(
            f"{dashboard.url}/controls/kill-switch",
            json={"on": False, "reason": "browser test: restore"},
            timeout=5,
        ).raise_for_status()
    # Turned off elsewhere: only the websocket can tell the page.
    expect(holder).to_have_attribute("data-kill-switch", "false")


def test_command_palette_runs_plan_from_the_keyboard(dashboard: Dashboard) -> None:
    page = dashboard.page
    page.keyboard.press("Control+k")
    palette = page.get_by_role("dialog", name="Command palette")
    expect(palette).to_be_visible()
    # An admin is offered every command: routing 3, operating 3, governing 1, admin 1, sign-out.
    expect(palette.get_by_role("option")).to_have_count(9)
    page.keyboard.type("plan")
    expect(palette.get_by_role("option").first).to_have_text(re.compile("^Plan"))
    page.keyboard.press("Enter")
    expect(palette).to_be_hidden()
    expect(page.get_by_test_id("explain-drawer")).to_be_visible()


def test_socket_drop_shows_disconnected_then_reconnects(page: Page, stack: Stack) -> None:
    connections = []

    def handler(ws: Any) -> None:
        connections.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r"/events$"), handler)
    dashboard = open_dashboard(page, stack)
    status = page.locator("[data-connection]")
    connections[-1].close(code=1011, reason="test drops the socket")
    expect(status).to_have_attribute("data-connection", "reconnecting")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_contain_text("Disconnected — retrying…")
    expect(status).to_have_attribute("data-connection", "open", timeout=15_000)
    assert len(connections) >= 2
    stats_at = page.locator("[data-stats-at]").get_attribute("data-stats-at")
    expect(page.locator("[data-stats-at]")).not_to_have_attribute(
        "data-stats-at", stats_at or "", timeout=10_000
    )
    assert dashboard.problems.page_errors == []


def test_page_loads_with_no_console_errors_and_no_csp_violations(dashboard: Dashboard) -> None:
    page = dashboard.page
    response = api().get(f"{dashboard.url}/", timeout=5)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    figure = page.locator("figure")
    expect(figure.locator("svg")).to_be_visible(timeout=15_000)
    expect(figure.locator("figcaption")).to_contain_text("OPA")
    expect(figure.locator("svg")).to_contain_text("OPA sidecar")
    # Two more model_stats ticks with the page idle: still nothing reported.
    stats = page.locator("[data-stats-at]")
    for _ in range(2):
        seen = stats.get_attribute("data-stats-at") or ""
        expect(stats).not_to_have_attribute("data-stats-at", seen, timeout=10_000)
    assert dashboard.problems.all() == []
    assert page.get_by_role("grid", name="Model matrix").is_visible()


def test_full_dashboard_with_budget_alert_and_closed_window(dashboard: Dashboard) -> None:
    page = dashboard.page
    stack = dashboard.stack
    stack.upstream.update("beta", **BETA_TOKENS)
    try:
        for i in range(5):
            assert execute(stack, "drain", f"drain {i}")["model"] == "hosted/beta"
    finally:
        stack.upstream.restore("beta")

    beta = dashboard.row("hosted/beta")
    expect(beta).to_have_attribute("data-alert", "budget_over_80", timeout=10_000)
    expect(beta.locator('[data-field="budgetFrac"]')).to_have_text("⚠ 85%")
    delta = dashboard.row("hosted/delta")
    expect(delta).to_have_attribute("data-alert", "window_closed")
    expect(dashboard.row("hosted/alpha")).not_to_have_attribute("data-alert", re.compile("."))
    feed = page.get_by_role("log", name="Live decisions and alerts")
    expect(feed.locator('[data-kind="alert"]').first).to_contain_text(
        "BudgetExhaustion", timeout=10_000
    )

    planner = page.get_by_role("form", name="Runbook planner")
    planner.get_by_label("Input").fill("Summarise the overnight incidents for the on-call.")
    planner.get_by_role("button", name="Execute").click()
    expect(page.get_by_role("group", name="Run summary")).to_be_visible(timeout=15_000)
    planner.get_by_role("button", name="Plan").click()
    expect(page.get_by_test_id("explain-drawer")).to_be_visible()
    page.get_by_role("button", name="Close explanation").click()
    expect(page.get_by_test_id("explain-drawer")).to_be_hidden()
    expect(page.locator("figure svg")).to_be_visible(timeout=15_000)
    dashboard.screenshot("dashboard")
    assert dashboard.problems.all() == []


def window_sentence(stack: Stack, model_id: str) -> str:
    """What the policy says of `model_id`'s usage window now, from a plan of a qa request."""
    return reason_detail(plan(stack, "qa")["decision"], model_id)


def test_closed_window_model_is_highlighted(
    page: Page, tmp_path_factory: pytest.TempPathFactory, web_dist: Path
) -> None:
    policy = dashboard_policy()
    policy["models"] = [
        model("hosted/alpha", "alpha", usage_windows=closed_all_day()),
        model("hosted/beta", "beta"),
    ]
    policy["rules"] = [
        {"id": "qa", "match": {"task": "qa"}, "route": {"prefer": ["hosted/alpha", "hosted/beta"]}}
    ]
    workdir = tmp_path_factory.mktemp("closed-window")
    with running_stack(workdir, policy, SYMPHONY_WEB_DIST=str(web_dist)) as stack:
        dashboard = open_dashboard(page, stack)
        closed = dashboard.row("hosted/alpha")
        expect(closed).to_have_attribute("data-alert", "window_closed")
        expect(closed).to_have_class(re.compile("matrix-row--window_closed"))
        window = closed.locator('[data-field="window"]')
        expect(window).to_contain_text("closed")
        # The row shows the policy's own sentence. It counts down to the opening, so it is
        # read between two plans, from a model_stats tick computed after the first.
        before = window_sentence(stack, "hosted/alpha")
        stats = page.locator("[data-stats-at]")
        for _ in range(2):  # the first tick may have been on its way during the plan
            seen = stats.get_attribute("data-stats-at") or ""
            expect(stats).not_to_have_attribute("data-stats-at", seen)
        shown = window.inner_text()
        after = window_sentence(stack, "hosted/alpha")
        assert before in shown or after in shown, (shown, before, after)
        expect(dashboard.row("hosted/beta")).not_to_have_attribute("data-alert", re.compile("."))
        open_window = dashboard.row("hosted/beta").locator('[data-field="window"]')
        expect(open_window).to_have_text(re.compile("^open"))
        expect(open_window).not_to_contain_text("closed")
        dashboard.screenshot("matrix-closed-window", of=page.locator("#matrix"))
