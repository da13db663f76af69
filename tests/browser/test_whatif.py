"""Decision records in a real Chromium: the Explain drawer's whole story of a run, the live feed
naming who served, an edit's impact previewed over recorded decisions, and a shadow policy."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    Dashboard,
    closed_all_day,
    dashboard_policy,
    decision_record,
    drawer_field,
    execute,
    open_dashboard,
    plan,
)
from tests.support.keys import api
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.browser


@pytest.fixture
def quiet_dashboard(
    page: Page, tmp_path_factory: pytest.TempPathFactory, web_dist: Path
) -> Iterator[Dashboard]:
    """The dashboard of a stack of its own: every decision it records is the test's."""
    workdir = tmp_path_factory.mktemp("whatif")
    with running_stack(workdir, dashboard_policy(), SYMPHONY_WEB_DIST=str(web_dist)) as stack:
        yield open_dashboard(page, stack)


def active_policy(stack: Stack) -> dict[str, Any]:
    """GET /policy: the active revision."""
    response = api().get(f"{stack.url}/policy", timeout=5)
    response.raise_for_status()
    policy: dict[str, Any] = response.json()
    return policy


def execute_with_fallback(stack: Stack) -> dict[str, Any]:
    """A qa run whose planned model (hosted/alpha) answers 500 once: hosted/beta serves it."""
    stack.upstream.fail("alpha", status=500, times=1)
    try:
        result = execute(stack, "qa", "Which runbook covers a failed deploy?")
    finally:
        stack.upstream.restore("alpha")
    assert result["model"] == "hosted/beta", result
    return result


def feed_line(page: Page, decision_id: str) -> Locator:
    """The live feed's line of `decision_id`."""
    feed = page.get_by_role("log", name="Live decisions and alerts")
    return feed.locator(f'[data-kind="decision"][data-decision-id="{decision_id}"]')


def expect_candidates(drawer: Locator, decision: dict[str, Any]) -> None:
    """The drawer lists every candidate with the reason code and sentence the decision gave."""
    reasons = drawer.get_by_role("list", name="Candidate reasons")
    for reason in decision["reasons"]:
        line = reasons.locator(f'li[data-model="{reason["model"]}"]')
        expect(line).to_have_attribute("data-reason", reason["reason"])
        expect(line).to_contain_text(reason["detail"])
    expect(reasons.locator("li")).to_have_count(len(decision["reasons"]))


def test_the_live_feed_names_the_model_that_served(dashboard: Dashboard) -> None:
    page = dashboard.page
    served = execute(dashboard.stack, "qa", "Is the night shift covered?")
    assert served["model"] == "hosted/alpha"
    line = feed_line(page, served["decision_id"])
    run = line.locator(".feed-execution")
    expect(run).to_have_attribute("data-serving-model", "hosted/alpha", timeout=10_000)
    expect(run).to_have_attribute("data-status", "ok")
    expect(run).to_contain_text("served by hosted/alpha")
    expect(run).not_to_contain_text("fallback")

    fell_back = execute_with_fallback(dashboard.stack)
    run = feed_line(page, fell_back["decision_id"]).locator(".feed-execution")
    expect(run).to_have_attribute("data-serving-model", "hosted/beta", timeout=10_000)
    expect(run).to_contain_text("served by hosted/beta")
    expect(run).to_contain_text("fallback from hosted/alpha")
    # The decision line names the planned model; the execution line the one that served.
    expect(feed_line(page, fell_back["decision_id"])).to_contain_text("→ hosted/alpha (qa-hosted)")


def test_the_drawer_tells_the_whole_story_of_a_run_that_fell_back(dashboard: Dashboard) -> None:
    page = dashboard.page
    stack = dashboard.stack
    result = execute_with_fallback(stack)
    decision_id = result["decision_id"]
    record = decision_record(stack, decision_id)
    report = api().get(f"{stack.url}/runs/{result['audit_id']}", timeout=5).json()
    active = active_policy(stack)
    assert record["revision"] == active["etag"].strip('"')

    line = feed_line(page, decision_id)
    expect(line.locator(".feed-execution")).to_be_visible(timeout=10_000)
    line.get_by_role("button", name=f"Explain decision {decision_id}").click()
    drawer = page.get_by_test_id("explain-drawer")
    expect(drawer).to_have_attribute("data-record", "loaded")
    expect(drawer.get_by_test_id("drawer-revision")).to_have_text(
        f"{record['revision']} · revision {active['version']}"
    )
    expect(drawer_field(drawer, "Winning rule")).to_have_text("qa-hosted")
    expect(drawer_field(drawer, "Model")).to_have_text("hosted/alpha")
    expect(drawer_field(drawer, "Decision id")).to_have_text(decision_id)
    expect(drawer_field(drawer, "Audit id")).to_have_text(result["audit_id"])
    expect_candidates(drawer, record["decision"])

    counters = drawer.get_by_role("table", name="Counters read")
    expect(counters.locator("tbody tr")).to_have_count(len(record["input"]["models"]))
    for model_id, read in record["input"]["models"].items():
        row = counters.locator(f'tr[data-model="{model_id}"]')
        expect(row.locator('[data-field="rpm"]')).to_have_text(str(read["rpm"]))
        expect(row.locator('[data-field="healthy"]')).to_have_text(
            "yes" if read["healthy"] else "no"
        )

    run = drawer.get_by_role("group", name="Run")
    expect(run.get_by_test_id("drawer-serving-model")).to_have_text("hosted/beta")
    expect(run).to_contain_text("fallback from hosted/alpha")
    attempts = run.get_by_role("table", name="Attempts").locator("tbody tr")
    expect(attempts).to_have_count(len(report["attempts"]))
    assert [(a["model"], a["outcome"]) for a in report["attempts"]] == [
        ("hosted/alpha", "http_5xx"),
        ("hosted/beta", "ok"),
    ]
    for index, attempt in enumerate(report["attempts"]):
        expect(attempts.nth(index)).to_have_attribute("data-model", attempt["model"])
        expect(attempts.nth(index)).to_have_attribute("data-outcome", attempt["outcome"])
        expect(attempts.nth(index)).to_contain_text(str(attempt["status"]))
    cost = run.get_by_test_id("drawer-cost")
    expect(cost).to_have_text(re.compile(r"^cost \$\d+\.\d+$"))
    assert report["cost_usd"] > 0
    # Dollars to the cent (a fraction of a cent shows more digits).
    assert float(cost.inner_text().removeprefix("cost $")) == pytest.approx(
        report["cost_usd"], abs=0.005
    )

    drawer.get_by_role("button", name="Full trace", exact=True).click()
    equal = drawer.get_by_test_id("replay-equal")
    expect(equal).to_have_attribute("data-equal", "true")
    expect(equal).to_have_text(f"replay under {record['revision']} equals the recorded decision")
    expect(
        drawer.get_by_role("heading", name=re.compile(r"^OPA full trace \(\d+ lines\)"))
    ).to_be_visible()
    trace = drawer.get_by_role("list", name="OPA trace")
    expect(trace.locator(".trace-location").first).to_have_text(re.compile(r"\.rego:\d+$"))
    expect(trace.locator("li").nth(20)).to_be_attached()
    dashboard.screenshot("explain-drawer-run", full_page=False)

    # A decision opened by its id alone (from a log line, a ticket): a plan, never run.
    planned = plan(stack, "code")
    page.get_by_role("button", name="Close explanation").click()
    search = page.get_by_role("search", name="Open a decision by id")
    search.get_by_label("Open decision").fill(planned["decision_id"])
    search.get_by_role("button", name="Open").click()
    expect(drawer).to_have_attribute("data-record", "loaded")
    expect(drawer_field(drawer, "Decision id")).to_have_text(planned["decision_id"])
    expect(drawer_field(drawer, "Winning rule")).to_have_text("code-after-hours")
    expect(drawer_field(drawer, "Model")).to_have_text("hosted/alpha")
    expect_candidates(drawer, decision_record(stack, planned["decision_id"])["decision"])
    expect(drawer.get_by_text("No run: this decision was not executed.")).to_be_visible()
    assert dashboard.problems.all() == []


def test_simulate_preview_counts_what_an_edit_would_reroute_and_activates_nothing(
    quiet_dashboard: Dashboard,
) -> None:
    dashboard = quiet_dashboard
    page = dashboard.page
    stack = dashboard.stack
    # The recorded set: 4 qa plans go to hosted/alpha, 2 drain plans to hosted/beta, and a
    # code plan to hosted/alpha (hosted/delta's window is closed).
    for task, n in (("qa", 4), ("drain", 2), ("code", 1)):
        for i in range(n):
            plan(stack, task, f"{task} {i}")
    before = active_policy(stack)

    editor = page.get_by_label("Policy document (JSON)")
    expect(editor).to_have_value(re.compile('"hosted/alpha"'))
    document = json.loads(editor.input_value())
    [alpha] = [m for m in document["models"] if m["name"] == "hosted/alpha"]
    alpha["usage_windows"] = closed_all_day()
    editor.fill(json.dumps(document, indent=2))
    page.get_by_role("button", name="Preview impact").click()

    # With hosted/alpha closed too: qa falls back to hosted/beta, code has nothing left.
    summary = page.get_by_test_id("simulate-summary")
    expect(summary).to_have_text(
        re.compile(
            r"^This change reroutes 4 of 7 decisions from the last 24 h;"
            r" [+±-]\$\d+\.\d+/day; 1 becomes denied\.$"
        ),
        timeout=30_000,
    )
    impact = page.get_by_role("region", name="Impact preview")
    by_model = impact.get_by_role("list", name="By model")
    expect(by_model.locator('[data-model="hosted/alpha"]')).to_have_text("hosted/alpha: 5 → 0")
    expect(by_model.locator('[data-model="hosted/beta"]')).to_have_text("hosted/beta: 2 → 6")
    expect(impact).to_contain_text("2 kept · 0 still denied")
    expect(page.get_by_text("unsaved changes")).to_be_visible()
    dashboard.screenshot("simulate", of=page.locator("#policy"))

    after = active_policy(stack)
    assert (after["version"], after["etag"]) == (before["version"], before["etag"])
    assert after["document"] == before["document"]
    expect(page.locator("[data-active-version]")).to_have_attribute(
        "data-active-version", str(before["version"])
    )
    assert dashboard.problems.all() == []


def shadow_state(stack: Stack) -> dict[str, Any]:
    """GET /policy/shadow."""
    response = api().get(f"{stack.url}/policy/shadow", timeout=5)
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def stored_candidate(stack: Stack) -> int:
    """Store a revision that sends qa to hosted/beta first, then roll back to the first one:
    the candidate is stored, not active. Its number."""
    active = active_policy(stack)
    document = active["document"]
    [qa] = [r for r in document["rules"] if r["id"] == "qa-hosted"]
    qa["route"] = {"prefer": ["hosted/beta"], "fallback": ["hosted/alpha", "local/gamma"]}
    written = api().put(
        f"{stack.url}/policy", json=document, headers={"If-Match": active["etag"]}, timeout=30
    )
    assert written.status_code == 200, written.text
    rolled_back = api().post(
        f"{stack.url}/policy/rollback",
        json={"revision": active["version"]},
        headers={"If-Match": written.json()["etag"]},
        timeout=30,
    )
    assert rolled_back.status_code == 200, rolled_back.text
    number: int = written.json()["version"]
    return number


def test_a_shadow_revision_counts_disagreements_until_it_is_dropped(
    quiet_dashboard: Dashboard,
) -> None:
    dashboard = quiet_dashboard
    page = dashboard.page
    stack = dashboard.stack
    candidate = stored_candidate(stack)
    active = active_policy(stack)["version"]
    panel = page.locator("#shadow")
    field = {name: panel.locator(f'dd[data-field="{name}"]') for name in ("revision", "evaluated")}
    expect(field["revision"]).to_have_text("none")

    panel.get_by_label("Revision number").fill(str(candidate))
    panel.get_by_role("button", name="Set as shadow").click()
    expect(panel.get_by_role("status")).to_have_text(
        f"Revision {candidate} is now evaluated in shadow."
    )
    expect(field["revision"]).to_have_text(f"r{candidate}")
    expect(field["evaluated"]).to_have_text("0")
    assert shadow_state(stack)["revision"] == candidate

    # Two qa plans the shadow would send elsewhere, two drain plans it agrees with.
    for task in ("qa", "drain", "qa", "drain"):
        plan(stack, task)
    deadline = time.monotonic() + 10
    while shadow_state(stack)["evaluated"] < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    panel.get_by_role("button", name="Refresh").click()
    expect(field["evaluated"]).to_have_text("4")
    expect(panel.locator('dd[data-field="disagreements"]')).to_have_text("2")
    expect(panel.locator('dd[data-field="rate"]')).to_have_text("50.0%")

    panel.get_by_role("button", name="Drop shadow").click()
    expect(panel.get_by_role("status")).to_have_text("The shadow revision was dropped.")
    expect(field["revision"]).to_have_text("none")
    assert shadow_state(stack)["revision"] is None
    assert active_policy(stack)["version"] == active
    assert dashboard.problems.all() == []
