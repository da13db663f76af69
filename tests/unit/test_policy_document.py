"""The policy document validator: schema errors as (JSON path, message), semantic checks."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.core.policy_document import PolicyValidator
from app.core.validation import json_path
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


def test_budget_reserve_alerts_deferred_and_timeout_fields(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["deferred"] = {"release_share": 0.25}
    doc["models"][0]["reserve_fraction"] = 0.05
    doc["models"][0]["budget_alerts"] = {"warn_at": 0.5, "critical_at": 1}
    doc["models"][1]["budget_alerts"] = {"critical_at": 0.9}
    doc["rules"][3]["essential"] = True
    doc["rules"][3]["route"]["timeout_s"] = 0.1
    assert pairs(validator, doc) == []
    doc["deferred"] = {"release_share": 0, "rate": 1}
    doc["models"][0]["reserve_fraction"] = 1.5
    doc["models"][0]["budget_alerts"] = {"warn_at": 0.9, "critical_at": 0.9}
    doc["models"][1]["budget_alerts"] = {"warn_at": 0.96}
    doc["models"][2]["budget_alerts"] = {"warn_at": 0}
    doc["rules"][3]["essential"] = "yes"
    doc["rules"][3]["route"]["timeout_s"] = 601
    assert pairs(validator, doc) == [
        ("$.deferred.rate", "unknown field"),
        ("$.deferred.release_share", "0 is less than or equal to the minimum of 0"),
        ("$.models[0].budget_alerts", "warn_at (0.9) must be below critical_at (0.9)"),
        ("$.models[0].reserve_fraction", "1.5 is greater than the maximum of 1"),
        ("$.models[1].budget_alerts", "warn_at (0.96) must be below critical_at (0.95)"),
        ("$.models[2].budget_alerts.warn_at", "0 is less than or equal to the minimum of 0"),
        ("$.rules[3].essential", "'yes' is not of type 'boolean'"),
        ("$.rules[3].route.timeout_s", "601 is greater than the maximum of 600"),
    ]


def test_schema_and_semantic_errors_come_in_one_answer(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0]["rpm_cap"] = 0
    doc["timezone"] = "Mars/Olympus"
    doc["rules"][0]["route"]["prefer"] = ["hosted/nope"]
    doc["rules"][1]["id"] = doc["rules"][0]["id"]
    assert pairs(validator, doc) == [
        ("$.models[0].rpm_cap", "0 is less than the minimum of 1"),
        ("$.rules[0].id", "duplicate rule id 'secrets-local-only'"),
        ("$.rules[0].route.prefer[0]", "unknown model 'hosted/nope'"),
        ("$.rules[1].id", "duplicate rule id 'secrets-local-only'"),
        ("$.timezone", "unknown IANA time zone 'Mars/Olympus'"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rpm_cap", 5.0, "must be an integer, not 5.0"),
        ("rpm_cap", 1.5, "must be an integer, not 1.5"),
        ("rpm_cap", 2**64, "18446744073709551616 is greater than the maximum of 10000000"),
        ("rpm_cap", True, "True is not of type 'integer'"),
        ("tpm_cap", 10**10 + 1, "10000000001 is greater than the maximum of 10000000000"),
        ("context_tokens", 1e8, "must be an integer, not 100000000.0"),
        ("context_tokens", 10**8 + 1, "100000001 is greater than the maximum of 100000000"),
        ("loa_max", 2.0, "must be an integer, not 2.0"),
        ("daily_usd_cap", 1e6 + 1, "1000001.0 is greater than the maximum of 1000000"),
    ],
)
def test_caps_and_counts_are_bounded_integers(
    validator: PolicyValidator, example: dict[str, Any], field: str, value: Any, message: str
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0][field] = value
    assert pairs(validator, doc) == [(f"$.models[0].{field}", message)]


def test_integral_floats_are_refused_wherever_the_schema_says_integer(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["cooldown"] = {"failures": 3.0, "seconds": 60.0}
    doc["kill_switch"]["loa_at_or_above"] = 2.0
    doc["rules"][1]["route"]["context_budget_tokens"] = 64000.0
    doc["rules"][2]["match"]["loa"] = 2.0
    doc["models"][1]["usage_windows"][0]["days"] = [1.0]
    assert pairs(validator, doc) == [
        ("$.cooldown.failures", "must be an integer, not 3.0"),
        ("$.cooldown.seconds", "must be an integer, not 60.0"),
        ("$.kill_switch.loa_at_or_above", "must be an integer, not 2.0"),
        ("$.models[1].usage_windows[0].days[0]", "must be an integer, not 1.0"),
        ("$.rules[1].route.context_budget_tokens", "must be an integer, not 64000.0"),
        ("$.rules[2].match.loa", "must be an integer, not 2.0"),
    ]


def test_numbers_accept_ints_and_finite_floats(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0]["daily_usd_cap"] = 7
    doc["models"][0]["price"] = {"input_per_1k": 10_000, "output_per_1k": 9999.5}
    doc["rules"][1]["route"]["max_cost_usd"] = 1e6
    assert validator.errors(doc) == []


def test_a_price_that_would_overflow_a_cost_is_refused(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0]["price"]["input_per_1k"] = 1e308
    doc["rules"][1]["route"]["max_cost_usd"] = 1e300
    assert pairs(validator, doc) == [
        ("$.models[0].price.input_per_1k", "1e+308 is greater than the maximum of 10000"),
        ("$.rules[1].route.max_cost_usd", "1e+300 is greater than the maximum of 1000000"),
    ]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_anywhere(
    validator: PolicyValidator, example: dict[str, Any], value: float
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0]["price"]["output_per_1k"] = value
    doc["models"][0]["temperature_bounds"]["min"] = value
    doc["rules"][0]["description"] = value
    doc["rules"][1]["colour"] = value
    message = f"must be a finite number, not {value}"
    assert pairs(validator, doc) == [
        ("$.models[0].price.output_per_1k", message),
        ("$.models[0].temperature_bounds.min", message),
        ("$.rules[0].description", message),
        ("$.rules[1].colour", message),
        ("$.rules[1].colour", "unknown field"),
    ]


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Mars/Olympus", "unknown IANA time zone 'Mars/Olympus'"),
        ("europe/berlin", "unknown IANA time zone 'europe/berlin'"),
        ("../../etc/passwd", "unknown IANA time zone '../../etc/passwd'"),
        ("", "'' should be non-empty"),
    ],
)
def test_unknown_time_zones_are_refused(
    validator: PolicyValidator, example: dict[str, Any], zone: str, message: str
) -> None:
    assert pairs(validator, {**example, "timezone": zone}) == [("$.timezone", message)]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_known_time_zones_pass(
    validator: PolicyValidator, example: dict[str, Any], zone: str
) -> None:
    assert validator.errors({**example, "timezone": zone}) == []


def test_a_huge_time_zone_is_refused_quickly(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    zone = "Europe/" + "x" * 100_000
    started = time.perf_counter()
    found = pairs(validator, {**example, "timezone": zone})
    assert time.perf_counter() - started < 1.0
    assert found == [("$.timezone", "is too long: at most 64 characters")]


def test_long_mixed_arrays_are_refused_quickly(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    # Mixed items defeat jsonschema's sorted uniqueness check; it would compare pairwise.
    doc = copy.deepcopy(example)
    doc["models"][0]["tools"] = [0, *(f"t{i}" for i in range(20_000))]
    started = time.perf_counter()
    found = [field for field, _ in pairs(validator, doc)]
    assert time.perf_counter() - started < 2.0
    assert found == ["$.models[0].tools", "$.models[0].tools[0]"]


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (("models",), 200),
        (("rules",), 1000),
        (("models", 0, "tools"), 64),
        (("models", 0, "deny_tasks"), 256),
        (("models", 1, "usage_windows"), 64),
        (("rules", 1, "match", "requires_tools"), 64),
        (("rules", 1, "route", "fallback"), 200),
    ],
)
def test_arrays_are_bounded(
    validator: PolicyValidator, example: dict[str, Any], path: tuple[str | int, ...], limit: int
) -> None:
    doc = copy.deepcopy(example)
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    items = parent[path[-1]]
    parent[path[-1]] = [copy.deepcopy(items[0]) for _ in range(limit + 1)]
    field = json_path(path)
    too_long = [(f, m) for f, m in pairs(validator, doc) if f == field]
    assert too_long == [(field, f"has too many items: at most {limit}")]


@pytest.mark.parametrize(
    ("field", "value", "where", "limit"),
    [
        ("provider", "p" * 65, "provider", 64),
        ("upstream_model", "m" * 129, "upstream_model", 128),
        ("name", "n" * 129, "name", 128),
        ("tools", ["t" * 65], "tools[0]", 64),
        ("deny_tasks", ["t" * 65], "deny_tasks[0]", 64),
    ],
)
def test_strings_are_bounded(
    validator: PolicyValidator,
    example: dict[str, Any],
    field: str,
    value: Any,
    where: str,
    limit: int,
) -> None:
    doc = copy.deepcopy(example)
    doc["models"][0][field] = value
    too_long = (f"$.models[0].{where}", f"is too long: at most {limit} characters")
    assert too_long in pairs(validator, doc)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(models="hosted/gemini-1.5-pro"), "$.models"),
        (lambda d: d["models"].__setitem__(0, 42), "$.models[0]"),
        (lambda d: d["models"][0].update(name=["a", "b"]), "$.models[0].name"),
        (
            lambda d: d["models"][0].update(usage_windows={"start": "09:00"}),
            "$.models[0].usage_windows",
        ),
        (
            lambda d: d["models"][1]["usage_windows"].__setitem__(0, "always"),
            "$.models[1].usage_windows[0]",
        ),
        (
            lambda d: d["models"][0].update(temperature_bounds={"min": "1", "max": 0}),
            "$.models[0].temperature_bounds.min",
        ),
        (lambda d: d["rules"][0].update(route=["local/smollm2"]), "$.rules[0].route"),
        (lambda d: d["rules"][0]["route"].update(prefer="local/smollm2"), "$.rules[0].route"),
        (lambda d: d["rules"][0]["route"].update(prefer=[{"name": "x"}]), "$.rules[0].route"),
        (lambda d: d["rules"][0].update(id={"a": 1}), "$.rules[0].id"),
        (lambda d: d["rules"].__setitem__(0, None), "$.rules[0]"),
        (lambda d: d.update(rules={"id": "x"}), "$.rules"),
        (lambda d: d.update(timezone=["UTC"]), "$.timezone"),
    ],
)
def test_a_wrongly_typed_document_is_reported_not_crashed_on(
    validator: PolicyValidator,
    example: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    doc = copy.deepcopy(example)
    mutate(doc)
    # Other errors may follow from the bad one (a rule naming a model that no longer parses).
    assert any(field.startswith(expected) for field, _ in pairs(validator, doc))


@pytest.mark.parametrize("doc", [None, "policy", 3, 1.5, math.nan, [{"models": 1}]])
def test_a_document_of_the_wrong_type_is_one_schema_error(
    validator: PolicyValidator, doc: Any
) -> None:
    found = pairs(validator, doc)
    assert [field for field, _ in found] == ["$"]


def test_deep_and_wide_values_are_walked_quickly(
    validator: PolicyValidator, example: dict[str, Any]
) -> None:
    deep: Any = [*range(200_000), math.nan]
    for _ in range(5000):
        deep = [deep]
    started = time.perf_counter()
    found = pairs(validator, {**example, "x": deep})
    assert time.perf_counter() - started < 2.0
    assert found == [
        ("$.x", "unknown field"),
        ("$.x" + "[0]" * 5000 + "[200000]", "must be a finite number, not nan"),
    ]
