"""The policy supply chain over HTTP against a real OPA sidecar pulling the proxy's bundle:
revisions, ETags, guards with their tests, bundle uploads, rollback, restarts, hostile input."""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from app.settings import Settings
from tests.support.keys import SIDECAR_KEY, bearer, signed_in
from tests.support.processes import Service, free_port, start_opa, tool
from tests.support.served import with_sidecar
from tests.support.waiting import eventually

GUARD = """package symphony.guards.pii

deny contains {
	"model": "hosted/gemini-1.5-pro",
	"reason": "pii_hosted",
	"detail": "PII stays off hosted models",
} if {
	input.request.task == "qa"
}
"""

GUARD_TEST = """package guard_tests.pii_test

import data.symphony.router

test_gemini_is_gated_for_qa if {
	decision := router.decision with input as {
		"request": {"task": "qa", "loa": 1, "risk": "low", "requires_tools": [], "est_tokens": 100},
		"models": {},
		"now_ns": 1764000000000000000,
		"kill_switch": false,
	}
	decision.model == "local/smollm2"
}
"""


def governor(client: FlaskClient) -> dict[str, str]:
    """The Authorization header of a governor key named gov-team (created once per app)."""
    config = client.application.config
    if "GOV_KEY" not in config:
        created = client.post("/keys", json={"name": "gov-team", "roles": ["governor"]})
        assert created.status_code == 201, created.get_json()
        config["GOV_KEY"] = created.get_json()["key"]
    return {"Authorization": f"Bearer {config['GOV_KEY']}"}


def current(client: FlaskClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/policy").get_json()
    return body


def put(client: FlaskClient, doc: Any, etag: str | None = None) -> TestResponse:
    headers = {"If-Match": etag or current(client)["etag"], **governor(client)}
    return client.put("/policy", json=doc, headers=headers)


def plan(client: FlaskClient) -> dict[str, Any]:
    response = client.post("/route/plan", json={"task": "qa", "loa": 1})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def revision_numbers(client: FlaskClient) -> list[int]:
    return [r["version"] for r in client.get("/policy/revisions").get_json()["revisions"]]


def test_validate_lists_every_error_and_stores_nothing(client: FlaskClient) -> None:
    doc = copy.deepcopy(current(client)["document"])
    doc["models"][0]["rpm_cap"] = -1
    doc["rules"][0]["route"]["prefer"] = ["hosted/missing"]
    body = client.post("/policy/validate", json=doc).get_json()
    fields = {e["field"] for e in body["errors"]}
    # Schema and semantic errors come back together, in one answer.
    assert body["valid"] is False
    assert {"$.models[0].rpm_cap", "$.rules[0].route.prefer[0]"} <= fields
    assert revision_numbers(client) == [1]
    good = client.post("/policy/validate", json=current(client)["document"]).get_json()
    assert good == {"valid": True, "errors": []}


def test_a_put_makes_a_revision_the_sidecar_enforces(client: FlaskClient) -> None:
    before = client.get("/policy")
    assert before.headers["ETag"] == before.get_json()["etag"]
    doc = copy.deepcopy(before.get_json()["document"])
    doc["version"] = "2026.11.2"
    doc["models"][0]["daily_usd_cap"] = 0.0
    response = client.put(
        "/policy",
        json=doc,
        headers={
            "If-Match": before.headers["ETag"],
            **governor(client),
            "X-Request-Id": "req-42",
            "X-Symphony-Reason": "freeze gemini spend",
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["version"], body["updated_by"], body["request_id"], body["label"]) == (
        2,
        "gov-team",
        "req-42",
        "2026.11.2",
    )
    assert (body["reason"], body["parent"], body["source"]) == (
        "freeze gemini spend",
        1,
        "document",
    )
    assert body["sidecar"] == {"bundle_revision": body["etag"].strip('"'), "in_step": True}
    assert response.headers["ETag"] == body["etag"] != before.headers["ETag"]
    # The new cap applies at once, under the revision the decision names.
    decided = plan(client)
    assert decided["policy_version"] == 2
    assert decided["decision"]["revision"] == body["etag"].strip('"')
    assert decided["decision"]["model"] == "local/smollm2"
    assert any(r["reason"] == "budget_exhausted" for r in decided["decision"]["reasons"])
    listing = client.get("/policy/revisions").get_json()["revisions"]
    assert [(r["version"], r["updated_by"]) for r in listing] == [(2, "gov-team"), (1, "bootstrap")]
    old = client.get("/policy/revisions/1").get_json()
    assert old["document"]["models"][0].get("daily_usd_cap") != 0.0
    assert old["guards"] == {} and old["hash"] == before.get_json()["hash"]
    assert client.get("/policy/revisions/99").status_code == 404


def test_writes_need_a_current_if_match(client: FlaskClient) -> None:
    doc = current(client)["document"]
    missing = client.put("/policy", json=doc)
    assert missing.status_code == 428 and missing.get_json()["error"] == "precondition_required"
    first = current(client)["etag"]
    assert put(client, doc, first).status_code == 200
    stale = put(client, doc, first)
    assert stale.status_code == 412
    body = stale.get_json()
    assert body["error"] == "precondition_failed" and body["current"]["version"] == 2
    assert revision_numbers(client) == [2, 1]
    for path in ("/policy/guards/pii", "/policy/rollback"):
        response = client.delete(path) if path.endswith("pii") else client.post(path, json={})
        assert response.status_code == 428


def test_an_invalid_put_changes_nothing_anywhere(client: FlaskClient) -> None:
    before = plan(client)["decision"]
    doc = copy.deepcopy(current(client)["document"])
    doc["rules"][0]["route"]["prefer"] = ["hosted/missing"]
    response = put(client, doc)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "policy_invalid"
    assert {"field": "$.rules[0].route.prefer[0]", "message": "unknown model 'hosted/missing'"} in (
        body["errors"]
    )
    assert revision_numbers(client) == [1]
    assert plan(client)["decision"] == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["models"][0]["price"].__setitem__("input_per_1k", 1e308), "$.models[0].price"),
        (lambda d: d["models"][0].__setitem__("rpm_cap", 2**62), "$.models[0].rpm_cap"),
        (lambda d: d["models"][0].__setitem__("rpm_cap", 5.0), "$.models[0].rpm_cap"),
        (lambda d: d["models"][0].__setitem__("tpm_cap", 1.5), "$.models[0].tpm_cap"),
        (lambda d: d.__setitem__("timezone", "X" * 100_000), "$.timezone"),
        (lambda d: d.__setitem__("timezone", "Mars/Olympus"), "$.timezone"),
    ],
)
def test_hostile_documents_are_refused_and_change_nothing(
    client: FlaskClient, change: Any, field: str
) -> None:
    doc = copy.deepcopy(current(client)["document"])
    change(doc)
    response = put(client, doc)
    assert response.status_code == 422, response.get_json()
    assert any(e["field"].startswith(field) for e in response.get_json()["errors"])
    assert revision_numbers(client) == [1]
    assert plan(client)["policy_version"] == 1


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e999", "9" * 5000, str(2**64)]
)
def test_non_finite_and_giant_numbers_are_a_400(client: FlaskClient, literal: str) -> None:
    text = json.dumps(current(client)["document"]).replace(
        '"rpm_cap": 30', f'"rpm_cap": {literal}', 1
    )
    response = client.put(
        "/policy",
        data=text,
        content_type="application/json",
        headers={"If-Match": current(client)["etag"]},
    )
    assert response.status_code in (400, 422)
    assert response.get_json()["error"] in ("invalid_request", "malformed_json", "policy_invalid")
    assert revision_numbers(client) == [1]


def test_guards_ship_through_the_api_with_their_tests(client: FlaskClient) -> None:
    etag = current(client)["etag"]
    response = client.put(
        "/policy/guards/pii",
        json={"source": GUARD, "tests": {"pii_test": GUARD_TEST}},
        headers={"If-Match": etag, **governor(client)},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["guards"] == {"pii": GUARD} and body["tests"] == {"pii_test": GUARD_TEST}
    assert body["sidecar"]["in_step"] is True
    assert plan(client)["decision"]["model"] == "local/smollm2"
    guard = client.get("/policy/guards/pii").get_json()
    assert guard == {"name": "pii", "source": GUARD, "tests": {"pii_test": GUARD_TEST}}
    removed = client.delete("/policy/guards/pii", headers={"If-Match": body["etag"]})
    assert removed.status_code == 200 and removed.get_json()["guards"] == {}
    assert removed.get_json()["tests"] == {}
    assert plan(client)["decision"]["model"] == "hosted/gemini-1.5-pro"
    assert client.get("/policy/guards/pii").status_code == 404
    again = client.delete("/policy/guards/pii", headers={"If-Match": removed.get_json()["etag"]})
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("source", "tests", "module", "row", "needle"),
    [
        (GUARD.replace('== "qa"', '== == "qa"'), {}, "guards/pii.rego", 8, "rego_parse_error"),
        (
            GUARD.replace("symphony.guards.pii", "symphony.router"),
            {},
            "guards/pii.rego",
            1,
            "must be package symphony.guards.pii",
        ),
        (
            GUARD + "\nbroken if input.x == undefined_name\n",
            {},
            "guards/pii.rego",
            11,
            "rego_unsafe_var_error",
        ),
        (
            GUARD,
            {"pii_test": GUARD_TEST.replace('"local/smollm2"', '"hosted/grok-code"')},
            "tests/pii_test.rego",
            5,
            "failed",
        ),
        (
            GUARD,
            {"pii_test": GUARD_TEST.replace("guard_tests.pii_test", "symphony.guards.pii_test")},
            "tests/pii_test.rego",
            1,
            "under symphony",
        ),
    ],
)
def test_a_bad_guard_is_a_422_naming_module_row_and_column(
    client: FlaskClient, source: str, tests: dict[str, str], module: str, row: int, needle: str
) -> None:
    before = plan(client)["decision"]
    response = client.put(
        "/policy/guards/pii",
        json={"source": source, "tests": tests},
        headers={"If-Match": current(client)["etag"]},
    )
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert any(
        e["module"] == module and e["row"] == row and needle in e["message"] for e in errors
    ), errors
    assert revision_numbers(client) == [1]
    assert plan(client)["decision"] == before


def test_rollback_makes_a_new_revision_equal_to_the_old_one(client: FlaskClient) -> None:
    first = current(client)
    put_guard = client.put(
        "/policy/guards/pii",
        data=GUARD,
        content_type="text/plain",
        headers={"If-Match": first["etag"]},
    )
    assert put_guard.status_code == 200
    response = client.post(
        "/policy/rollback", json={"revision": 1}, headers={"If-Match": put_guard.get_json()["etag"]}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["version"], body["source"], body["parent"]) == (3, "rollback", 2)
    assert body["hash"] == first["hash"] and body["guards"] == {}
    assert plan(client)["decision"]["model"] == "hosted/gemini-1.5-pro"
    bad = client.post(
        "/policy/rollback", json={"revision": "1"}, headers={"If-Match": body["etag"]}
    )
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "$.revision"
    gone = client.post(
        "/policy/rollback", json={"revision": 42}, headers={"If-Match": body["etag"]}
    )
    assert gone.status_code == 404


def build_bundle(root: Path, files: dict[str, str]) -> bytes:
    """A bundle as a governance team's CI builds it: `opa build -b` of a folder."""
    source = root / "src"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    out = root / "bundle.tar.gz"
    subprocess.run([tool("opa"), "build", "-b", str(source), "-o", str(out)], check=True)
    return out.read_bytes()


def test_a_bundle_from_opa_build_becomes_a_revision(client: FlaskClient, tmp_path: Path) -> None:
    doc = copy.deepcopy(current(client)["document"])
    doc["version"] = "from-ci"
    data = build_bundle(
        tmp_path,
        {
            "guards/pii.rego": GUARD,
            "tests/pii_test.rego": GUARD_TEST,
            "symphony/policy/data.json": json.dumps(doc),
        },
    )
    response = client.post(
        "/policy/bundle",
        data=data,
        content_type="application/gzip",
        headers={"If-Match": current(client)["etag"], "X-Symphony-Reason": "CI build 7"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["source"], body["label"], body["reason"]) == ("bundle", "from-ci", "CI build 7")
    assert body["guards"] == {"pii": GUARD} and body["tests"] == {"pii_test": GUARD_TEST}
    assert plan(client)["decision"]["model"] == "local/smollm2"


def test_a_bundle_that_carries_a_router_or_garbage_is_refused(
    client: FlaskClient, tmp_path: Path
) -> None:
    hijack = build_bundle(tmp_path, {"x.rego": 'package symphony.router\n\ndecision := "yes"\n'})
    etag = current(client)["etag"]
    response = client.post(
        "/policy/bundle", data=hijack, content_type="application/gzip", headers={"If-Match": etag}
    )
    assert response.status_code == 422
    assert "the router ships with Symphony" in response.get_json()["errors"][0]["message"]
    junk = client.post(
        "/policy/bundle",
        data=b"not a tarball",
        content_type="application/gzip",
        headers={"If-Match": etag},
    )
    assert junk.status_code == 422 and junk.get_json()["errors"][0]["module"] == "bundle"
    assert revision_numbers(client) == [1]


def test_a_restarted_proxy_serves_the_active_revision(
    client: FlaskClient, settings: Settings
) -> None:
    doc = copy.deepcopy(current(client)["document"])
    doc["version"] = "kept-across-restarts"
    assert put(client, doc).status_code == 200
    again = signed_in(create_app({"TESTING": True, "SETTINGS": settings}))
    body = current(again)
    assert (body["version"], body["label"]) == (2, "kept-across-restarts")


def test_old_policy_files_and_run_reports_are_carried_into_the_store(
    settings: Settings, tmp_path: Path
) -> None:
    example = json.loads(settings.policy_file.read_text())
    folder = settings.data_dir / "policy"
    folder.mkdir(parents=True)
    for number, label in ((1, "first"), (2, "second")):
        entry = {
            "version": number,
            "updated_by": f"author-{number}",
            "request_id": f"req-{number}",
            "updated_at": f"2026-11-2{number}T10:00:00.000+00:00",
            "label": label,
            "document": {**example, "version": label},
        }
        (folder / f"{number:06d}.json").write_text(json.dumps(entry))
    audit_id = "run_20261120T100000Z_0123456789ab"
    runs = settings.data_dir / "runs" / "20261120"
    runs.mkdir(parents=True)
    (runs / f"{audit_id}.json").write_text(json.dumps({"audit_id": audit_id, "model": "x"}))
    client = signed_in(create_app({"TESTING": True, "SETTINGS": settings}))
    listing = client.get("/policy/revisions").get_json()["revisions"]
    assert [(r["version"], r["updated_by"], r["label"]) for r in listing] == [
        (2, "author-2", "second"),
        (1, "author-1", "first"),
    ]
    assert current(client)["label"] == "second"
    assert client.get(f"/runs/{audit_id}").get_json() == {"audit_id": audit_id, "model": "x"}


def test_a_sidecar_behind_the_store_past_the_grace_is_refused(
    settings: Settings, opa_port: int, logs_dir: Path
) -> None:
    strict = replace(settings, revision_grace_s=0.0, propagation_wait_s=0.2)
    app = create_app({"TESTING": True, "SETTINGS": strict})
    client = signed_in(app)
    with with_sidecar(app, opa_port, logs_dir) as opa:
        old = current(client)["etag"].strip('"')
        opa.stop()
        doc = copy.deepcopy(current(client)["document"])
        doc["version"] = "newer"
        written = put(client, doc)
        assert written.status_code == 200
        assert written.get_json()["sidecar"] == {"bundle_revision": None, "in_step": False}
        # Back on its persisted (older) bundle, unable to reach the proxy for the new one.
        stale: Service = start_opa(
            logs_dir,
            f"http://127.0.0.1:{free_port()}",
            port=opa.port,
            persist_dir=logs_dir / f"opa-{opa.port}-persist",
        )
        try:
            response = client.post("/route/plan", json={"task": "qa", "loa": 1})
            body = response.get_json()
            assert response.status_code == 503, body
            assert body["error"] == "policy_revision_mismatch"
            assert body["evaluated_revision"] == old
            assert body["active_revision"] == written.get_json()["etag"].strip('"')
            assert body["decision_id"]
            metrics = client.get("/metrics").get_data(as_text=True)
            assert "symphony_policy_revision_mismatch_total 1.0" in metrics
        finally:
            stale.stop()


def test_health_and_metrics_show_each_sidecar_revision(client: FlaskClient) -> None:
    etag = current(client)["etag"].strip('"')

    # The sidecar is ready once it activated the bundle; its status report of that
    # activation is posted to the proxy a moment later (OPA's status plugin runs on its own).
    def reported() -> bool:
        policy = client.get("/status/health.json").get_json()["policy"]
        return [s["bundle_revision"] for s in policy["sidecars"]] == [etag]

    eventually(reported, what="the sidecar's status report")
    policy = client.get("/status/health.json").get_json()["policy"]
    assert policy["active_revision"] == 1
    assert policy["local_sidecar"] == {"bundle_revision": etag, "in_step": True}
    assert [(s["name"], s["bundle_revision"], s["in_step"]) for s in policy["sidecars"]] == [
        ("opa", etag, True)
    ]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "symphony_policy_active_revision 1.0" in metrics
    assert 'symphony_opa_bundle_revision{sidecar="opa"} 1.0' in metrics
    assert 'symphony_opa_bundle_in_step{sidecar="opa"} 1.0' in metrics


def test_kill_switch_state_survives_a_restart_and_rejects_bad_bodies(
    client: FlaskClient, settings: Settings
) -> None:
    assert client.put("/controls/kill-switch", json={"on": "yes"}).status_code == 400
    unknown = client.put("/controls/kill-switch", json={"on": True, "why": "x"})
    assert unknown.status_code == 400 and unknown.get_json()["errors"][0]["field"] == "$.why"
    assert client.get("/controls/kill-switch").get_json()["kill_switch"] is False
    client.put("/controls/kill-switch", json={"on": True, "reason": "drill"})
    again = signed_in(create_app({"TESTING": True, "SETTINGS": settings}))
    state = again.get("/controls/kill-switch", headers=bearer()).get_json()
    assert (state["kill_switch"], state["updated_by"], state["reason"]) == (True, "admin", "drill")


def test_a_sidecar_reporting_bundle_errors_shows_them_in_health_and_metrics(
    client: FlaskClient,
) -> None:
    # What OPA's status plugin posts when a download or activation fails.
    report = {
        "labels": {"id": "4b1e", "sidecar": "opa-broken", "version": "1.20.2"},
        "bundles": {
            "symphony": {
                "name": "symphony",
                "active_revision": "r1-0123456789abcdef",
                "code": "bundle_error",
                "message": "server replied with HTTP 500",
                "errors": ["download failed"],
            }
        },
    }
    sidecar = bearer(SIDECAR_KEY)
    assert client.post("/opa/status/", json=report, headers=sidecar).status_code == 204
    sidecars = client.get("/status/health.json").get_json()["policy"]["sidecars"]
    broken = next(s for s in sidecars if s["name"] == "opa-broken")
    assert broken["bundle_revision"] == "r1-0123456789abcdef" and broken["in_step"] is False
    assert broken["bundle_errors"][0] == {
        "code": "bundle_error",
        "message": "server replied with HTTP 500",
    }
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'symphony_opa_bundle_errors{sidecar="opa-broken"} 2.0' in metrics
    assert 'symphony_opa_bundle_in_step{sidecar="opa-broken"} 0.0' in metrics
    assert (
        client.post(
            "/opa/status/", data="nope", content_type="application/json", headers=sidecar
        ).status_code
        == 400
    )


def test_every_policy_change_is_an_audit_event_with_hashes(client: FlaskClient) -> None:
    first = current(client)
    doc = copy.deepcopy(first["document"])
    doc["version"] = "audited"
    changed = put(client, doc)
    assert changed.status_code == 200, changed.get_json()
    guard = client.put(
        "/policy/guards/pii",
        json={"source": GUARD, "tests": {"pii_test": GUARD_TEST}},
        headers={"If-Match": changed.get_json()["etag"], **governor(client)},
    )
    assert guard.status_code == 200, guard.get_json()
    rolled = client.post(
        "/policy/rollback",
        json={"revision": 1},
        headers={"If-Match": guard.get_json()["etag"], "X-Request-Id": "req-rb"},
    )
    assert rolled.status_code == 200, rolled.get_json()
    events = client.get("/audit?limit=500").get_json()["events"]
    policy_events = [e for e in events if e["kind"].startswith("policy.")]
    assert [(e["kind"], e["actor"]) for e in policy_events] == [
        ("policy.rollback", "admin"),
        ("policy.guard", "gov-team"),
        ("policy.revision", "gov-team"),
    ]
    rollback, added, revised = policy_events
    assert (revised["before_hash"], revised["after_hash"]) == (
        first["hash"],
        changed.get_json()["hash"],
    )
    assert added["before_hash"] == revised["after_hash"]
    assert added["after_hash"] == guard.get_json()["hash"]
    assert rollback["after_hash"] == first["hash"] and rollback["request_id"] == "req-rb"
    # Filters and pages: by actor, by kind, by time, newest first, `before` to go back.
    mine = client.get("/audit?actor=gov-team").get_json()["events"]
    assert {e["kind"] for e in mine} >= {"policy.guard", "policy.revision"}
    page = client.get("/audit?kind=policy.guard&kind=x&limit=1").get_json()
    assert [e["kind"] for e in page["events"]] == ["policy.guard"]
    one = client.get("/audit?limit=1").get_json()
    older = client.get(f"/audit?limit=1&before={one['next_before']}").get_json()
    assert older["events"][0]["id"] < one["events"][0]["id"]
    since = revised["at"].replace("+00:00", "Z")
    recent = client.get(f"/audit?since={since}").get_json()["events"]
    assert all(e["at"] >= revised["at"] for e in recent) and len(recent) >= 3
    bad = client.get("/audit?since=yesterday")
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "?since"
    assert client.get("/audit?limit=0").status_code == 400
    assert client.get("/audit?colour=red").status_code == 400
