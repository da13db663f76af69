"""POST /route/plan against the real OPA sidecar."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.keys import signed_in
from tests.support.processes import (
    ROOT,
    Service,
    free_port,
    spawn,
    start_opa,
    tool,
    wait_until_up,
)
from tests.support.served import serve, with_sidecar


def plan(client: FlaskClient, body: Any, query: str = "") -> tuple[int, dict[str, Any]]:
    response = client.post(f"/route/plan{query}", json=body)
    payload = response.get_json()
    assert isinstance(payload, dict)
    return response.status_code, payload


def test_qa_is_allowed_with_reasons_and_a_notes_trace(client: FlaskClient) -> None:
    status, body = plan(client, {"task": "qa", "loa": 1})
    assert status == 200
    decision = body["decision"]
    assert decision["allow"] is True
    assert decision["rule"] == "qa-default"
    assert decision["candidates"] == ["hosted/gemini-1.5-pro", "local/smollm2"]
    assert decision["model"] in decision["candidates"]
    assert {r["model"] for r in decision["reasons"]} == set(decision["candidates"])
    assert body["explain"]["reasons"] == decision["reasons"]
    assert any("router.rego:" in line and "Note" in line for line in body["explain"]["trace"])
    assert body["policy_version"] == 1
    assert isinstance(body["decision_id"], str) and body["decision_id"]


def test_full_explain_gives_rego_file_and_row_lines(client: FlaskClient) -> None:
    status, body = plan(client, {"task": "qa", "loa": 1}, "?explain=full")
    assert status == 200
    trace = body["explain"]["trace"]
    assert len(trace) > 50
    assert any(line.startswith("policy/rego/gates.rego:") for line in trace)
    assert not any(" Redo " in line for line in trace)


def test_explain_off_has_no_trace(client: FlaskClient) -> None:
    _, body = plan(client, {"task": "qa", "loa": 1}, "?explain=off")
    assert body["explain"]["trace"] == []


def test_a_secret_task_stays_local(client: FlaskClient) -> None:
    _, body = plan(client, {"task": "secrets", "loa": 0})
    assert body["decision"]["model"] == "local/smollm2"
    assert body["decision"]["rule"] == "secrets-local-only"


def test_no_matching_rule_is_a_governance_denial(client: FlaskClient) -> None:
    _, body = plan(client, {"task": "translate", "loa": 3})
    decision = body["decision"]
    assert (decision["allow"], decision["denial"], decision["denial_kind"]) == (
        False,
        "no_matching_rule",
        "governance",
    )


def test_kill_switch_blocks_risky_requests_only(client: FlaskClient) -> None:
    response = client.put("/controls/kill-switch", json={"on": True, "reason": "test"})
    assert response.status_code == 200 and response.get_json()["kill_switch"] is True
    _, risky = plan(client, {"task": "code", "loa": 2})
    _, calm = plan(client, {"task": "qa", "loa": 1})
    assert risky["decision"]["denial"] == "kill_switch"
    assert calm["decision"]["allow"] is True
    client.put("/controls/kill-switch", json={"on": False, "reason": "test"})
    _, after = plan(client, {"task": "code", "loa": 2})
    assert after["decision"]["allow"] is True


def test_a_named_model_outside_the_route_is_refused(client: FlaskClient) -> None:
    _, body = plan(client, {"task": "qa", "loa": 1, "model": "hosted/grok-code"})
    decision = body["decision"]
    assert decision["denial"] == "no_model_available"
    assert decision["reasons"][0]["reason"] == "not_in_route"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"task": "qa"}, 400, "$.loa"),
        ({"task": "qa", "loa": 9}, 400, "$.loa"),
        ({"task": "qa", "loa": "high"}, 400, "$.loa"),
        ({"task": "qa", "loa": 1, "surprise": True}, 400, "$.surprise"),
        ({"task": 3, "loa": 1}, 400, "$.task"),
        ({"task": "qa", "loa": 1, "requires_tools": "vision"}, 400, "$.requires_tools"),
        ([1, 2], 400, "$"),
    ],
)
def test_bad_bodies_name_the_field(client: FlaskClient, body: Any, status: int, field: str) -> None:
    response = client.post("/route/plan", json=body)
    assert response.status_code == status
    payload = response.get_json()
    assert payload["errors"][0]["field"] == field
    assert payload["message"]


def test_malformed_json_wrong_type_and_oversized_bodies(client: FlaskClient) -> None:
    bad = client.post("/route/plan", data="{nope", content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"] == "malformed_json"
    form = client.post("/route/plan", data="task=qa", content_type="text/plain")
    assert form.status_code == 415 and form.get_json()["errors"][0]["field"] == "$"
    huge = client.post(
        "/route/plan",
        data='{"task":"qa","loa":1,"input":"' + "x" * 1_100_000 + '"}',
        content_type="application/json",
    )
    assert huge.status_code == 413 and huge.get_json()["error"] == "body_too_large"
    mode = client.post("/route/plan?explain=everything", json={"task": "qa", "loa": 1})
    assert mode.status_code == 400 and mode.get_json()["errors"][0]["field"] == "?explain"


def test_a_stopped_sidecar_fails_closed_with_503(client: FlaskClient, opa: Service) -> None:
    assert plan(client, {"task": "qa", "loa": 1})[0] == 200
    opa.stop()
    status, body = plan(client, {"task": "qa", "loa": 1})
    assert status == 503
    assert body["error"] == "policy_engine_unavailable"


def test_a_restarted_sidecar_decides_on_its_persisted_bundle_before_it_reaches_the_proxy(
    client: FlaskClient, opa: Service, logs_dir: Path
) -> None:
    revision = client.get("/policy").get_json()["etag"].strip('"')
    opa.stop()
    persisted = logs_dir / f"opa-{opa.port}-persist"
    # Nobody listens at the bundle URL now: only the persisted bundle can answer.
    again = start_opa(
        logs_dir, f"http://127.0.0.1:{free_port()}", port=opa.port, persist_dir=persisted
    )
    try:
        status, body = plan(client, {"task": "qa", "loa": 1})
        assert status == 200 and body["decision"]["allow"] is True
        assert body["decision"]["revision"] == revision
    finally:
        again.stop()


def test_a_sidecar_without_a_bundle_answers_no_decision(
    client: FlaskClient, opa: Service, logs_dir: Path
) -> None:
    opa.stop()
    empty = start_opa(
        logs_dir,
        f"http://127.0.0.1:{free_port()}",
        port=opa.port,
        persist_dir=logs_dir / "none",
        wait=False,
    )
    try:
        wait_until_up(f"{empty.url}/health", proc=empty.proc)
        assert requests.get(f"{empty.url}/health?bundles", timeout=5).status_code != 200
        status, body = plan(client, {"task": "qa", "loa": 1})
        assert status == 503 and body["error"] == "policy_engine_unavailable"
    finally:
        empty.stop()


def test_opa_rest_writes_are_refused(client: FlaskClient, opa: Service) -> None:
    before = plan(client, {"task": "qa", "loa": 1})[1]["decision"]
    # The bundle owns every path: the router's data, anything beside it, the policies, and
    # the decision-log mask (an unmasked audit trail would leak what the mask hides).
    writes = [
        requests.put(f"{opa.url}/v1/data/symphony/policy", json={}, timeout=5),
        requests.put(f"{opa.url}/v1/data/elsewhere", json={"x": 1}, timeout=5),
        requests.patch(
            f"{opa.url}/v1/data", json=[{"op": "add", "path": "/x", "value": 1}], timeout=5
        ),
        requests.put(f"{opa.url}/v1/policies/x", data=GUARD, timeout=5),
        requests.put(
            f"{opa.url}/v1/policies/mask", data="package system.log\n\nmask := []\n", timeout=5
        ),
        requests.delete(f"{opa.url}/v1/data/symphony", timeout=5),
        requests.delete(f"{opa.url}/v1/policies/symphony/policy/rego/logmask.rego", timeout=5),
    ]
    assert [write.status_code for write in writes] == [400] * len(writes)
    # "all paths owned by bundle ...", "can't write to document root with bundle roots ..."
    assert all("bundle" in write.json()["message"] for write in writes)
    assert plan(client, {"task": "qa", "loa": 1})[1]["decision"] == before


def test_a_sidecar_started_with_basic_authorization_keeps_answering(
    app: Flask, opa_port: int, logs_dir: Path
) -> None:
    # A sidecar started as earlier releases did (`--authorization=basic`) pulling from an
    # upgraded proxy: activation erases the policies it loaded itself; the bundle's own
    # system.authz keeps it answering (without it: 500 on every call) and refusing writes.
    with serve(app) as url:
        old = start_opa(logs_dir, url, port=opa_port, extra_args=["--authorization=basic"])
        try:
            status, body = plan(signed_in(app), {"task": "qa", "loa": 1})
            assert status == 200 and body["decision"]["allow"] is True
            write = requests.put(f"{old.url}/v1/data/elsewhere", json={"x": 1}, timeout=5)
            assert write.status_code == 401
        finally:
            old.stop()


def test_a_sidecar_answering_garbage_fails_closed(
    tmp_path: Path, logs_dir: Path, settings: Settings
) -> None:
    garbage = tmp_path / "garbage.rego"
    garbage.write_text('package symphony.router\n\ndecision := "yes"\n')
    port = free_port()
    liar = spawn(
        "opa-garbage",
        [
            tool("opa"),
            "run",
            "--server",
            "--skip-version-check",
            "--addr",
            f"127.0.0.1:{port}",
            str(garbage),
        ],
        port,
        logs_dir,
    ).ready("/health")
    try:
        app = create_app({"TESTING": True, "SETTINGS": replace(settings, opa_url=liar.url)})
        status, body = plan(signed_in(app), {"task": "qa", "loa": 1})
        assert status == 503 and body["error"] == "policy_engine_unavailable"
    finally:
        liar.stop()


GUARD = """package symphony.guards.pii

deny contains {
	"model": "hosted/gemini-1.5-pro",
	"reason": "pii_hosted",
	"detail": "PII stays off hosted models",
} if {
\tinput.request.task == "qa"
}

deny contains {"reason": "pii_blocked", "detail": "PII tasks are blocked"} if {
\tinput.request.task == "pii"
}
"""


def test_a_guard_shipped_through_the_api_denies_a_model_and_a_request(
    client: FlaskClient,
) -> None:
    etag = client.get("/policy").get_json()["etag"]
    put = client.put(
        "/policy/guards/pii", data=GUARD, content_type="text/plain", headers={"If-Match": etag}
    )
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["sidecar"]["in_step"] is True
    _, qa = plan(client, {"task": "qa", "loa": 1})
    assert qa["decision"]["model"] == "local/smollm2"
    assert {
        "model": "hosted/gemini-1.5-pro",
        "reason": "pii_hosted",
        "detail": "PII stays off hosted models",
    } in qa["decision"]["reasons"]
    _, pii = plan(client, {"task": "pii", "loa": 0})
    assert pii["decision"]["denial"] == "pii_blocked"
    assert pii["decision"]["revision"] == put.get_json()["etag"].strip('"')


def test_example_policy_is_what_a_fresh_proxy_loads(client: FlaskClient) -> None:
    body = client.get("/policy").get_json()
    assert body["version"] == 1 and body["updated_by"] == "bootstrap"
    assert body["document"]["models"][2]["name"] == "local/smollm2"
    assert ROOT.joinpath("policy/examples/default.json").is_file()


def test_a_configured_client_limit_answers_429_as_json(
    settings: Settings, opa_port: int, logs_dir: Path
) -> None:
    limited = replace(settings, client_rate_limit="3/minute")
    app = create_app({"TESTING": True, "SETTINGS": limited})
    with with_sidecar(app, opa_port, logs_dir):
        check_client_limit(signed_in(app))


def check_client_limit(client: FlaskClient) -> None:
    statuses = [plan(client, {"task": "qa", "loa": 1})[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, body = plan(client, {"task": "qa", "loa": 1})
    assert status == 429 and body["error"] == "client_rate_limited"
    assert client.get("/policy").status_code == 200


def test_deeply_nested_json_is_a_400_not_a_crash(client: FlaskClient) -> None:
    body = "[" * 200_000 + "]" * 200_000
    etag = client.get("/policy").get_json()["etag"]
    response = client.put(
        "/policy", data=body, content_type="application/json", headers={"If-Match": etag}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed_json"
    assert client.get("/policy").get_json()["version"] == 1


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    wrong = client.get("/route/plan")
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"
