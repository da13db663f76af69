"""Decisions under any revision with the real `opa eval`, compared with a real sidecar
pulling the same revision's bundle: replay must give back exactly what the sidecar said."""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from app.adapters.opa import OpaPolicyEngine
from app.adapters.opa_batch import KEEP_BUNDLES, RevisionEvaluator
from app.adapters.opa_check import read_router_modules
from app.core.counters import ModelUsage
from app.core.policy_input import build_input
from app.core.policy_service import Author, PolicyService
from app.core.ports import EvaluationFailed
from app.core.revisions import Revision, canonical_json, content_hash
from app.core.route_request import RouteRequest
from tests.support.processes import ROOT, Service, tool

GEMINI, GROK, SMOL = "hosted/gemini-1.5-pro", "hosted/grok-code", "local/smollm2"
MODELS = (GEMINI, GROK, SMOL)
WEDNESDAY_10H = 1794992400.0  # 2026-11-18 10:00 Europe/Berlin: grok-code's window is open
SATURDAY_10H = 1795251600.0  # 2026-11-21 10:00 Europe/Berlin: its window is closed
LOCAL = re.compile(r"__local\d+__")
RESEARCH = {"name": "ana", "roles": ["router"], "team": "research"}

TEAM_GUARD = (ROOT / "policy" / "tests" / "guards" / "team_research.rego").read_text()
CHAT_GUARD = """package symphony.guards.no_chat

deny contains {"reason": "chat_frozen", "detail": "chat is frozen this week"} if {
	input.request.task == "chat"
}
"""


def request_input(
    task: str,
    loa: int,
    now: float = WEDNESDAY_10H,
    usage: dict[str, ModelUsage] | None = None,
    kill_switch: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """An OPA input as the proxy builds one."""
    client = fields.pop("client", None)
    request = RouteRequest(task=task, loa=loa, est_tokens=fields.pop("est_tokens", 400), **fields)
    if client is not None:
        request = replace(request, client=client)
    counts = usage or {name: ModelUsage() for name in MODELS}
    return build_input(request, counts, frozenset(), now, kill_switch)


def variety() -> dict[str, dict[str, Any]]:
    """One input per kind of outcome the router has."""
    broke = {GEMINI: ModelUsage(usd_today=5.0), GROK: ModelUsage(), SMOL: ModelUsage()}
    busy = {GEMINI: ModelUsage(rpm=30), GROK: ModelUsage(), SMOL: ModelUsage(rpm=120)}
    return {
        "allowed": request_input("qa", 2),
        "kill_switch": request_input("qa", 2, kill_switch=True),
        "kill_switch_high_risk": request_input("summarize", 1, kill_switch=True, risk="high"),
        "window_open": request_input("code", 2, requires_tools=("function_calling",)),
        "window_closed": request_input(
            "code", 2, now=SATURDAY_10H, requires_tools=("function_calling",), model=GROK
        ),
        "budget_exhausted": request_input("qa", 2, usage=broke),
        "capacity": request_input("qa", 2, usage=busy),
        "no_matching_rule": request_input("chat", 3),
        "chat_low_autonomy": request_input("chat", 1),
        "research_team": request_input("qa", 2, client=RESEARCH),
        "cooling_down": request_input(
            "qa",
            2,
            usage={GEMINI: ModelUsage(cooldown_until=WEDNESDAY_10H + 30), SMOL: ModelUsage()},
        ),
        "temperature": request_input("summarize", 1, temperature=1.7, max_output_tokens=4096),
    }


def generated(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """Inputs like recorded ones: tasks, autonomy, risk, counters and clock all varying."""
    rnd = random.Random(seed)
    tasks = ("qa", "code", "summarize", "secrets", "review", "chat")
    inputs = []
    for _ in range(count):
        now = WEDNESDAY_10H + rnd.randint(0, 14 * 86_400)
        usage = {
            name: ModelUsage(
                rpm=rnd.randint(0, 40),
                tpm=rnd.randint(0, 300_000),
                usd_today=round(rnd.random() * 6, 4),
                cooldown_until=now + 10 if rnd.random() < 0.05 else None,
            )
            for name in MODELS
        }
        request = RouteRequest(
            task=rnd.choice(tasks),
            loa=rnd.randint(1, 3),
            risk=rnd.choice(("low", "medium", "high")),
            requires_tools=tuple(rnd.sample(["function_calling", "vision"], rnd.randint(0, 1))),
            est_tokens=rnd.randint(0, 50_000),
            max_output_tokens=rnd.choice((64, 256, 1024)),
            temperature=rnd.choice((None, 0.2, 1.5)),
            model=rnd.choice(("auto",) * 5 + MODELS),
        )
        unhealthy = frozenset(name for name in MODELS if rnd.random() < 0.03)
        inputs.append(build_input(request, usage, unhealthy, now, rnd.random() < 0.1))
    return inputs


def revision(number: int, guards: dict[str, str] | None = None, **changes: Any) -> Revision:
    """A revision of the example policy with `changes` to its document."""
    document = json.loads((ROOT / "policy" / "examples" / "default.json").read_text())
    document.update(changes)
    return Revision(
        number=number,
        hash=content_hash(document, guards or {}, {}),
        document=document,
        guards=guards or {},
        tests={},
        created_by="test",
        created_at=datetime(2026, 11, 18, tzinfo=UTC),
        request_id="req-test",
        reason=None,
        source="test",
        parent=None,
    )


def sidecar_decisions(sidecar: Service, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the sidecar decides for each input, one query each as the proxy asks."""
    with requests.Session() as session:
        return [
            session.post(
                f"{sidecar.url}/v1/data/symphony/router/decision", json={"input": x}, timeout=10
            ).json()["result"]
            for x in inputs
        ]


def renumbered(trace: list[str]) -> list[str]:
    """Trace lines with the compiler's local variable numbers dropped: the sidecar compiles
    its authorization and log-mask modules too, so its locals are numbered further on."""
    return [LOCAL.sub("__local__", line) for line in trace]


def canonical(decisions: list[dict[str, Any]]) -> list[str]:
    """Each decision as canonical JSON: equal strings mean byte-for-byte equal objects."""
    return [canonical_json(decision) for decision in decisions]


def activate(policies: PolicyService, sidecar: Service, name: str, source: str) -> Revision:
    """Add guard `name`; returns once the sidecar serves the new revision."""
    written = policies.put_guard(
        name, source, None, policies.active_revision().etag, Author("test", f"req-{name}")
    )
    deadline = time.monotonic() + 20
    url = f"{sidecar.url}/v1/data/system/bundles/symphony/manifest/revision"
    while requests.get(url, timeout=5).json().get("result") != written.bundle_revision:
        assert time.monotonic() < deadline, f"the sidecar never activated {written.bundle_revision}"
        time.sleep(0.1)
    return written


@pytest.fixture
def evaluator(tmp_path: Path) -> Iterator[RevisionEvaluator]:
    """An evaluator with the repository's router, caching bundles under tmp_path."""
    with RevisionEvaluator(
        tool("opa"), read_router_modules(ROOT / "policy" / "rego"), cache_dir=tmp_path / "bundles"
    ) as made:
        yield made


def test_decisions_equal_the_sidecars_under_its_revision_byte_for_byte(
    app: Flask, opa: Service, evaluator: RevisionEvaluator
) -> None:
    policies: PolicyService = app.extensions["symphony"].policies
    inputs = list(variety().values())
    seeded = policies.active_revision()

    replayed = evaluator.decisions(seeded, inputs)

    assert canonical(replayed) == canonical(sidecar_decisions(opa, inputs))
    assert {d["revision"] for d in replayed} == {seeded.bundle_revision}
    outcomes = {name: d["denial"] for name, d in zip(variety(), replayed, strict=True)}
    assert outcomes["allowed"] is None
    assert outcomes["kill_switch"] == outcomes["kill_switch_high_risk"] == "kill_switch"
    assert outcomes["no_matching_rule"] == "no_matching_rule"
    assert outcomes["window_closed"] == "no_model_available"
    reasons = {(r["model"], r["reason"]) for d in replayed for r in d["reasons"]}
    assert {(GROK, "window_closed"), (GEMINI, "budget_exhausted")} <= reasons

    activate(policies, opa, "team_research", TEAM_GUARD)
    with_guards = activate(policies, opa, "no_chat", CHAT_GUARD)
    guarded = evaluator.decisions(with_guards, inputs)

    assert canonical(guarded) == canonical(sidecar_decisions(opa, inputs))
    by_name = dict(zip(variety(), guarded, strict=True))
    assert by_name["no_matching_rule"]["denial"] == "chat_frozen"
    assert (GEMINI, "team_local_only") in {
        (r["model"], r["reason"]) for r in by_name["research_team"]["reasons"]
    }
    assert by_name["research_team"]["model"] == SMOL
    # The revision before the guards still decides as it did: replay is per revision.
    assert canonical(evaluator.decisions(seeded, inputs)) == canonical(replayed)


def test_generated_inputs_equal_the_sidecars(
    app: Flask, opa: Service, evaluator: RevisionEvaluator
) -> None:
    inputs = generated(300, seed=5)

    replayed = evaluator.decisions(app.extensions["symphony"].policies.active_revision(), inputs)

    assert canonical(replayed) == canonical(sidecar_decisions(opa, inputs))
    assert len({d["denial"] for d in replayed}) >= 4


def test_explanations_equal_the_sidecars(
    app: Flask, opa: Service, evaluator: RevisionEvaluator
) -> None:
    active = app.extensions["symphony"].policies.active_revision()
    engine = OpaPolicyEngine(opa.url, timeout_s=10)
    opa_input = variety()["budget_exhausted"]

    for mode in ("notes", "full"):
        decision, trace = evaluator.explain(active, opa_input, mode)
        live = engine.evaluate(opa_input, mode)

        assert canonical_json(decision) == canonical_json(live.result)
        assert renumbered(trace) == renumbered(list(live.trace))
    notes = evaluator.explain(active, opa_input, "notes")[1]
    assert any('Note "rule qa-default matched"' in line for line in notes)
    assert len(evaluator.explain(active, opa_input, "full")[1]) > 10 * len(notes)
    assert evaluator.explain(active, opa_input, "off")[1] == []
    with pytest.raises(ValueError):
        evaluator.explain(active, opa_input, "debug")


def test_another_revision_decides_differently(evaluator: RevisionEvaluator) -> None:
    live = revision(4)
    chat_rule = {"id": "chat-local", "match": {"task": "chat"}, "route": {"prefer": [SMOL]}}
    rules = [rule for rule in live.document["rules"] if rule["id"] != "qa-default"]
    other = revision(5, rules=[chat_rule, *rules])
    inputs = [variety()["allowed"], variety()["no_matching_rule"]]

    before, after = evaluator.decisions(live, inputs), evaluator.decisions(other, inputs)

    assert [(d["denial"], d["model"]) for d in before] == [
        (None, GEMINI),
        ("no_matching_rule", None),
    ]
    assert [(d["denial"], d["model"]) for d in after] == [("no_matching_rule", None), (None, SMOL)]
    assert {d["revision"] for d in before} == {live.bundle_revision}
    assert {d["revision"] for d in after} == {other.bundle_revision} != {live.bundle_revision}


def test_ten_thousand_inputs_in_order(evaluator: RevisionEvaluator) -> None:
    active = revision(7, guards={"team_research": TEAM_GUARD})
    inputs = generated(10_000)

    decided = evaluator.decisions(active, inputs)

    assert len(decided) == 10_000
    assert {d["revision"] for d in decided} == {active.bundle_revision}
    # Each spot sits on a boundary the batch may be split at; alone, each decides the same.
    for index in (0, 1, 4_999, 5_000, 5_001, 9_999):
        assert decided[index] == evaluator.decisions(active, [inputs[index]])[0]
    assert len({d["denial"] for d in decided}) >= 4


def test_a_revision_that_does_not_compile_fails_with_opas_message(
    evaluator: RevisionEvaluator,
) -> None:
    broken = revision(
        8, guards={"bad": 'package symphony.guards.bad\n\ndeny contains {"r": 1 +}\n'}
    )

    with pytest.raises(EvaluationFailed) as failed:
        evaluator.decisions(broken, [variety()["allowed"]])

    assert "guards/bad.rego:3: rego_parse_error" in str(failed.value)
    with pytest.raises(EvaluationFailed, match="rego_parse_error"):
        evaluator.explain(broken, variety()["allowed"], "notes")


def test_an_evaluation_error_fails_with_its_code(evaluator: RevisionEvaluator) -> None:
    conflicting = revision(
        9,
        guards={
            "twice": "package symphony.guards.twice\n\nv := 1 if input.now_ns > 0\n\n"
            'v := 2 if input.now_ns > 0\n\ndeny contains {"reason": "x"} if v > 5\n'
        },
    )

    with pytest.raises(EvaluationFailed) as failed:
        evaluator.decisions(conflicting, [variety()["allowed"]])

    assert "eval_conflict_error" in str(failed.value)
    assert failed.value.errors[0]["location"]["file"] == "guards/twice.rego"


def test_a_slow_batch_times_out_instead_of_hanging(tmp_path: Path) -> None:
    with RevisionEvaluator(
        tool("opa"), read_router_modules(ROOT / "policy" / "rego"), timeout_s=0.05
    ) as hurried:
        started = time.monotonic()
        with pytest.raises(EvaluationFailed, match="timed out"):
            hurried.decisions(revision(10), generated(4_000))
        assert time.monotonic() - started < 10


def test_the_bundle_cache_keeps_the_last_eight_and_nothing_else(tmp_path: Path) -> None:
    cache = tmp_path / "bundles"
    cache.mkdir()
    (cache / "notes.txt").write_text("not the evaluator's")
    router = read_router_modules(ROOT / "policy" / "rego")
    with RevisionEvaluator(tool("opa"), router, cache_dir=cache) as cached:
        for number in range(1, KEEP_BUNDLES + 3):
            cached.decisions(revision(number), [variety()["allowed"]])

    entries = {path.name for path in cache.iterdir()} - {"notes.txt"}
    assert (cache / "notes.txt").exists()
    assert sorted(name.split("-")[0] for name in entries) == sorted(
        f"r{number}" for number in range(3, KEEP_BUNDLES + 3)
    )
    assert all([p.name for p in (cache / name).iterdir()] == ["symphony"] for name in entries)


def test_without_a_cache_dir_nothing_is_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    own = RevisionEvaluator(tool("opa"), read_router_modules(ROOT / "policy" / "rego"))

    own.decisions(revision(1), [variety()["allowed"]])
    own.explain(revision(2), variety()["allowed"], "notes")
    assert len(list(scratch.glob("symphony-bundles-*/r*/symphony"))) == 2
    own.close()

    assert list(scratch.iterdir()) == []
