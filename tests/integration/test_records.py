"""Decision records, replay, simulation and shadow policies, against the app's real OPA
sidecar and the real `opa` binary evaluating other revisions."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from tests.support.keys import bearer, signed_in

QA = {"task": "qa", "loa": 1}
SUMMARIZE = {"task": "summarize", "loa": 1}
UNKNOWN = {"task": "unknown", "loa": 3}
PAUSE_SUMMARIES = """package symphony.guards.pause

deny contains {"reason": "summaries_paused", "detail": "summaries are paused"} if {
\tinput.request.task == "summarize"
}
"""


def plan(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/route/plan?explain=off", json=body)
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def recorded_set(client: FlaskClient) -> list[str]:
    """4 qa (gemini), 2 summarize (smollm2), 2 without a matching rule."""
    ids = []
    for body, times in ((QA, 4), (SUMMARIZE, 2), (UNKNOWN, 2)):
        ids += [plan(client, body)["decision_id"] for _ in range(times)]
    return ids


def closed_now(document: dict[str, Any], model: str) -> dict[str, Any]:
    """`document` with `model`'s window closed all of today (in the policy's zone)."""
    changed = copy.deepcopy(document)
    today = datetime.now(ZoneInfo(changed["timezone"])).isoweekday() % 7  # 0 is Sunday
    days = [d for d in range(7) if d != today]
    for entry in changed["models"]:
        if entry["name"] == model:
            entry["usage_windows"] = [{"start": "00:00", "end": "23:59", "days": days}]
    return changed


def test_every_decision_is_recorded_with_its_exact_input_and_revision(client: FlaskClient) -> None:
    secret = "my private prompt text"
    planned = plan(client, {**QA, "input": secret})
    found = client.get(f"/decisions/{planned['decision_id']}")
    assert found.status_code == 200
    record = found.get_json()
    assert record["source"] == "plan" and record["revision_number"] == 1
    assert record["revision"] == planned["decision"]["revision"]
    assert record["decision"] == planned["decision"]
    assert record["input"]["request"]["task"] == "qa"
    assert set(record["input"]) >= {"request", "models", "now_ns", "kill_switch", "client"}
    assert record["input"]["client"]["name"] == "admin"
    assert secret not in json.dumps(record)  # never prompt text
    assert client.get("/decisions/not-a-decision").status_code == 404


def test_listing_filters_and_pages(client: FlaskClient) -> None:
    ids = recorded_set(client)
    everything = client.get("/decisions?limit=500").get_json()["decisions"]
    assert [d["decision_id"] for d in everything][: len(ids)] == list(reversed(ids))
    denied = client.get("/decisions?denial=no_matching_rule").get_json()["decisions"]
    assert len(denied) == 2 and all(d["allow"] is False for d in denied)
    gemini = client.get("/decisions?model=hosted/gemini-1.5-pro").get_json()["decisions"]
    assert len(gemini) == 4 and {d["rule"] for d in gemini} == {"qa-default"}
    first = client.get("/decisions?limit=3").get_json()
    second = client.get(f"/decisions?limit=3&before={first['next_before']}").get_json()
    assert [d["decision_id"] for d in first["decisions"] + second["decisions"]] == list(
        reversed(ids)
    )[:6]
    assert client.get("/decisions?limit=0").status_code == 400
    assert client.get("/decisions?since=yesterday").status_code == 400
    assert client.get("/decisions?colour=red").status_code == 400


def test_every_record_replays_to_the_recorded_decision(client: FlaskClient) -> None:
    ids = recorded_set(client)
    client.put("/controls/kill-switch", json={"on": True, "reason": "replay test"})
    ids.append(plan(client, {"task": "code", "loa": 2})["decision_id"])  # kill switch
    client.put("/controls/kill-switch", json={"on": False, "reason": "replay test over"})
    etag = client.get("/policy").get_json()["etag"]
    guarded = client.put(
        "/policy/guards/pause",
        data=PAUSE_SUMMARIES,
        content_type="text/plain",
        headers={"If-Match": etag},
    )
    assert guarded.status_code == 200, guarded.get_json()
    ids.append(plan(client, SUMMARIZE)["decision_id"])  # a guard's denial, revision 2
    revisions = set()
    for decision_id in ids:
        replayed = client.post(f"/decisions/{decision_id}/replay?explain=off").get_json()
        assert replayed["equal"] is True, replayed["differences"]
        assert replayed["decision"] == replayed["recorded"]
        revisions.add(replayed["revision"])
    assert len(revisions) == 2
    traced = client.post(f"/decisions/{ids[0]}/replay?explain=full").get_json()
    assert traced["equal"] is True and len(traced["explain"]["trace"]) > 10
    assert "replay_mismatches_total 0.0" in client.get("/metrics").get_data(as_text=True)


def simulate(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/policy/simulate", json=body)
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def counts(result: dict[str, Any]) -> tuple[int, ...]:
    keys = ("total", "kept", "changed_model", "became_denied", "became_allowed", "still_denied")
    return tuple(result[k] for k in keys)


def test_simulate_counts_what_a_candidate_would_change(client: FlaskClient) -> None:
    recorded_set(client)
    document = client.get("/policy").get_json()["document"]
    window = {"since": "2020-01-01T00:00:00Z"}
    # Gemini's window closed: the 4 qa decisions fall back to the local model.
    closed = simulate(client, {**window, "document": closed_now(document, "hosted/gemini-1.5-pro")})
    assert counts(closed) == (8, 2, 4, 0, 0, 2)
    assert closed["by_reason"] == {"window_closed": 4}
    assert closed["by_model"]["hosted/gemini-1.5-pro"] == {"before": 4, "after": 0}
    assert closed["by_model"]["local/smollm2"] == {"before": 2, "after": 6}
    assert closed["by_rule"]["qa-default"]["changed_model"] == 4
    assert closed["usd_per_day_change"] < 0  # gemini's dollars go, the local model is free
    assert len(closed["examples"]) == 4
    example = closed["examples"][0]
    assert example["before"]["model"] == "hosted/gemini-1.5-pro"
    assert example["after"]["model"] == "local/smollm2"
    # Gemini's price over qa-default's route maximum: the same 4, another reason.
    pricey = copy.deepcopy(document)
    for entry in pricey["models"]:
        if entry["name"] == "hosted/gemini-1.5-pro":
            entry["price"] = {"input_per_1k": 5000, "output_per_1k": 5000}
    over = simulate(client, {**window, "document": pricey})
    assert counts(over) == (8, 2, 4, 0, 0, 2)
    # Every reason that now gates the model chosen before is counted.
    assert over["by_reason"] == {"cost_over_route_max": 4, "budget_exhausted": 4}
    # A guard pausing summaries: the 2 summaries become denied, nothing else moves.
    paused = simulate(client, {**window, "guards": {"pause": PAUSE_SUMMARIES}})
    assert counts(paused) == (8, 4, 0, 2, 0, 2) and paused["by_reason"] == {"summaries_paused": 2}
    # Nothing was activated; a window before the records selects none of them.
    assert client.get("/policy").get_json()["version"] == 1
    before = simulate(client, {"since": "2020-01-01T00:00:00Z", "until": "2021-01-01T00:00:00Z"})
    assert before["total"] == 0
    broken = client.post("/policy/simulate", json={"guards": {"bad": "package nope\n\nx :="}})
    assert broken.status_code == 422 and broken.get_json()["error"] == "policy_invalid"
    assert client.post("/policy/simulate", json={"limit": 0}).status_code == 400


def test_a_shadow_revision_counts_its_disagreements_and_is_promoted(client: FlaskClient) -> None:
    etag = client.get("/policy").get_json()["etag"]
    guarded = client.put(
        "/policy/guards/pause",
        data=PAUSE_SUMMARIES,
        content_type="text/plain",
        headers={"If-Match": etag},
    ).get_json()
    assert guarded["version"] == 2
    rolled = client.post(
        "/policy/rollback", json={"revision": 1}, headers={"If-Match": guarded["etag"]}
    ).get_json()
    assert rolled["version"] == 3  # enforced: no guard; shadow: revision 2 with the guard
    assert client.put("/policy/shadow", json={"revision": 2}).status_code == 200
    for body in (SUMMARIZE, SUMMARIZE, SUMMARIZE, QA):
        plan(client, body)
    services = client.application.extensions["symphony"]
    services.records.flush()  # the writer's thread would within 0.5 s
    state = client.get("/policy/shadow").get_json()
    assert (state["revision"], state["evaluated"], state["disagreements"]) == (2, 4, 3)
    assert state["rate"] == 0.75
    metrics = client.get("/metrics").get_data(as_text=True)
    assert (
        'symphony_shadow_disagreements_total{kind="became_denied",rule="summarize-cheap"} 3.0'
        in metrics
    )
    assert plan(client, SUMMARIZE)["decision"]["allow"] is True  # never enforced
    promoted = client.post(
        "/policy/shadow/promote", headers={"If-Match": client.get("/policy").get_json()["etag"]}
    )
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["guards"] == {"pause": PAUSE_SUMMARIES}
    assert client.get("/policy/shadow").get_json()["revision"] is None
    assert plan(client, SUMMARIZE)["decision"]["denial"] == "summaries_paused"
    operator = signed_in(client.application)
    key = operator.post("/keys", json={"name": "ops", "roles": ["operator"]}).get_json()["key"]
    assert client.get("/policy/shadow", headers=bearer(key)).status_code == 403
