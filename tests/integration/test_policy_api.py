"""The policy document over HTTP: validate, versioned replace, history, restart."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import requests
from flask.testing import FlaskClient

from app import create_app
from app.settings import Settings
from tests.support.processes import Service


def opa_policy(opa: Service) -> dict[str, Any]:
    body = requests.get(f"{opa.url}/v1/data/symphony/policy", timeout=5).json()
    result: dict[str, Any] = body["result"]
    return result


def stored_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.data_dir / "policy").glob("*.json"))


def current(client: FlaskClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/policy").get_json()
    return body


def test_validate_lists_every_error_and_stores_nothing(
    client: FlaskClient, settings: Settings
) -> None:
    doc = copy.deepcopy(current(client)["document"])
    doc["models"][0]["rpm_cap"] = -1
    doc["timezone"] = 12
    response = client.post("/policy/validate", json=doc)
    assert response.status_code == 200
    assert response.get_json() == {
        "valid": False,
        "errors": [
            {"field": "$.models[0].rpm_cap", "message": "-1 is less than the minimum of 1"},
            {"field": "$.timezone", "message": "12 is not of type 'string'"},
        ],
    }
    assert stored_files(settings) == ["000001.json"]
    good = client.post("/policy/validate", json=current(client)["document"]).get_json()
    assert good == {"valid": True, "errors": []}


def test_put_stores_a_new_version_and_pushes_it_to_opa(
    client: FlaskClient, settings: Settings, opa: Service
) -> None:
    doc = copy.deepcopy(current(client)["document"])
    doc["version"] = "2026.11.2"
    doc["models"][0]["daily_usd_cap"] = 0.0
    response = client.put(
        "/policy", json=doc, headers={"X-Symphony-Actor": "gov-team", "X-Request-Id": "req-42"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["version"], body["updated_by"], body["request_id"], body["label"]) == (
        2,
        "gov-team",
        "req-42",
        "2026.11.2",
    )
    assert opa_policy(opa)["version"] == "2026.11.2"
    assert stored_files(settings) == ["000001.json", "000002.json"]
    history = client.get("/policy/history").get_json()["versions"]
    assert [h["version"] for h in history] == [2, 1]
    # The new cap applies at once: a zero budget blocks the hosted model.
    plan = client.post("/route/plan", json={"task": "qa", "loa": 1}).get_json()
    assert plan["policy_version"] == 2
    assert plan["decision"]["model"] == "local/smollm2"
    assert any(r["reason"] == "budget_exhausted" for r in plan["decision"]["reasons"])


def test_an_invalid_put_changes_nothing_on_disk_or_in_opa(
    client: FlaskClient, settings: Settings, opa: Service
) -> None:
    before_opa = opa_policy(opa)
    doc = copy.deepcopy(current(client)["document"])
    doc["rules"][0]["route"]["prefer"] = ["hosted/missing"]
    response = client.put("/policy", json=doc)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "policy_invalid"
    assert body["errors"] == [
        {"field": "$.rules[0].route.prefer[0]", "message": "unknown model 'hosted/missing'"}
    ]
    assert stored_files(settings) == ["000001.json"]
    assert opa_policy(opa) == before_opa
    assert current(client)["version"] == 1


def test_put_with_malformed_json_is_a_400(client: FlaskClient, settings: Settings) -> None:
    response = client.put("/policy", data="{", content_type="application/json")
    assert response.status_code == 400
    assert stored_files(settings) == ["000001.json"]


def test_a_restarted_proxy_loads_the_stored_policy(
    client: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    doc = copy.deepcopy(current(client)["document"])
    doc["version"] = "kept-across-restarts"
    assert client.put("/policy", json=doc).status_code == 200
    again = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    body = current(again)
    assert (body["version"], body["label"]) == (2, "kept-across-restarts")


def test_kill_switch_state_survives_a_restart_and_rejects_bad_bodies(
    client: FlaskClient, settings: Settings
) -> None:
    assert client.put("/controls/kill-switch", json={"on": "yes"}).status_code == 400
    unknown = client.put("/controls/kill-switch", json={"on": True, "why": "x"})
    assert unknown.status_code == 400 and unknown.get_json()["errors"][0]["field"] == "$.why"
    assert client.get("/controls/kill-switch").get_json()["kill_switch"] is False
    client.put("/controls/kill-switch", json={"on": True}, headers={"X-Symphony-Actor": "ops"})
    again = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    state = again.get("/controls/kill-switch").get_json()
    assert (state["kill_switch"], state["updated_by"]) == (True, "ops")
