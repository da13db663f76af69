# METADATA
# title: Tests for symphony.matching
# description: Rule match fields, first-match order, candidate order and the requested model.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.matching_test

import data.symphony.fixtures
import data.symphony.matching

request := fixtures.request

test_empty_match_matches_every_request if {
	matching.matches({}, request)
	matching.matches({}, object.union(request, {"task": "code", "loa": 3, "risk": "high"}))
}

test_task_must_be_equal if {
	matching.matches({"task": "qa"}, request)
	not matching.matches({"task": "code"}, request)
}

test_request_loa_at_or_below_rule_loa_matches if {
	matching.matches({"loa": 2}, object.union(request, {"loa": 0}))
	matching.matches({"loa": 2}, object.union(request, {"loa": 2}))
	not matching.matches({"loa": 2}, object.union(request, {"loa": 3}))
}

test_risk_must_be_equal if {
	matching.matches({"risk": "low"}, request)
	not matching.matches({"risk": "high"}, request)
}

test_rule_tools_must_all_be_required_by_the_request if {
	match := {"requires_tools": ["function_calling"]}
	matching.matches(match, object.union(request, {"requires_tools": ["vision", "function_calling"]}))
	not matching.matches(match, request)
	not matching.matches(match, object.union(request, {"requires_tools": ["vision"]}))
}

test_every_present_field_must_match if {
	match := {"task": "qa", "loa": 2, "risk": "low"}
	matching.matches(match, request)
	not matching.matches(match, object.union(request, {"risk": "medium"}))
}

test_first_matching_rule_in_policy_order_wins if {
	rules := [
		{"id": "narrow", "match": {"task": "code", "requires_tools": ["function_calling"]}, "route": {}},
		{"id": "code", "match": {"task": "code"}, "route": {}},
		{"id": "any", "match": {}, "route": {}},
	]
	code := object.union(request, {"task": "code"})
	matching.first_match(rules, object.union(code, {"requires_tools": ["function_calling"]})).id == "narrow"
	matching.first_match(rules, code).id == "code"
	matching.first_match(rules, request).id == "any"
}

test_no_matching_rule_is_undefined if {
	not matching.first_match([{"id": "code", "match": {"task": "code"}, "route": {}}], request)
	not matching.first_match([], request)
}

test_rule_without_match_matches_every_request if {
	matching.first_match([{"id": "bare", "route": {}}], request).id == "bare"
}

test_candidates_are_prefer_then_fallback_first_occurrence_kept if {
	route := {"prefer": ["b", "a", "b"], "fallback": ["a", "c", "d", "c"]}
	matching.candidates(route, ["a", "b", "c", "d", "e"]) == ["b", "a", "c", "d"]
}

test_candidates_from_fallback_alone if {
	matching.candidates({"fallback": ["c"]}, ["a", "b", "c"]) == ["c"]
}

test_candidates_are_every_model_when_the_route_names_none if {
	matching.candidates({"stream": true}, ["a", "b", "c"]) == ["a", "b", "c"]
	matching.candidates({"prefer": [], "fallback": []}, ["a", "b"]) == ["a", "b"]
}

test_auto_keeps_every_candidate if {
	matching.requested(["a", "b"], "auto") == ["a", "b"]
}

test_named_model_narrows_to_itself_when_routed_to if {
	matching.requested(["a", "b"], "b") == ["b"]
}

test_named_model_outside_the_route_leaves_no_candidate if {
	matching.requested(["a", "b"], "c") == []
}

test_settings_default_stream_true_and_null_limits if {
	matching.settings({"prefer": ["a"]}) == {"stream": true, "max_cost_usd": null, "context_budget_tokens": null}
}

test_settings_copy_the_route_limits if {
	route := {"stream": false, "max_cost_usd": 0.5, "context_budget_tokens": 8000, "prefer": ["a"]}
	matching.settings(route) == {"stream": false, "max_cost_usd": 0.5, "context_budget_tokens": 8000}
}
