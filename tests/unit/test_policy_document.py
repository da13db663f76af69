"""The policy document validator: schema errors as (JSON path, message), semantic checks."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.core.policy_document import PolicyValidator
from tests.support.processes import ROOT


@pytest.fixture(scope="module")
def validator() -> PolicyValidator:
    return PolicyValidator(json.loads((ROOT / "schemas" / "policy.schema.json").read_text()))


@pytest.fixture
def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "policy" / "examples" / "default.json").read_text())
    return loaded


def pairs(validator: PolicyValidator, doc: Any) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in validator.errors(doc)]


def test_the_example_policy_is_valid(validator: PolicyValidator, example: dict[str, Any]) -> None:
    assert validator.errors(example) == []


def test_every_schema_error_is_listed_with_its_path(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0]["rpm_cap"] = 0
    doc["models"][1]["class"] = "cloud"
    del doc["models"][2]["tpm_cap"]
    doc["rules"][0]["match"]["loa"] = 7
    doc["rules"][1]["colour"] = "red"
    assert pairs(validator, doc) == [
        ("$.models[0].rpm_cap", "0 is less than the minimum of 1"),
        ("$.models[1].class", "'cloud' is not one of ['local', 'hosted']"),
        ("$.models[2].tpm_cap", "is required"),
        ("$.rules[0].match.loa", "7 is greater than the maximum of 3"),
        ("$.rules[1].colour", "unknown field"),
    ]


def test_a_document_that_is_not_an_object_is_one_error(validator: PolicyValidator) -> None:
    assert pairs(validator, []) == [("$", "[] is not of type 'object'")]


def test_semantic_errors_schema_cannot_express(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["timezone"] = "Mars/Olympus_Mons"
    doc["models"][1]["name"] = doc["models"][0]["name"]
    doc["models"][1]["usage_windows"] = [{"start": "09:00", "end": "09:00"}]
    doc["rules"][0]["route"]["prefer"] = ["hosted/nope"]
    found = pairs(validator, doc)
    assert ("$.timezone", "unknown IANA time zone 'Mars/Olympus_Mons'") in found
    assert ("$.models[1].name", "duplicate model name 'hosted/gemini-1.5-pro'") in found
    assert (
        "$.models[1].usage_windows[0]",
        "window start equals end (09:00): it is never open",
    ) in found
    assert ("$.rules[0].route.prefer[0]", "unknown model 'hosted/nope'") in found


def test_duplicate_rule_ids_and_inverted_temperature_bounds(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["rules"][1]["id"] = doc["rules"][0]["id"]
    doc["models"][0]["temperature_bounds"] = {"min": 1.5, "max": 0.5}
    found = pairs(validator, doc)
    assert ("$.rules[1].id", "duplicate rule id 'secrets-local-only'") in found
    assert ("$.models[0].temperature_bounds", "min is greater than max") in found
