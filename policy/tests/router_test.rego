# METADATA
# title: Tests for symphony.router
# description: >-
#   Whole decisions over the example policy: routing, rule order, candidates,
#   named and unknown models, no_model_available, model_windows. Denials
#   decided before routing, and guards, are in router_denials_test.rego.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.router_test

import data.symphony.fixtures
import data.symphony.router

gemini := "hosted/gemini-1.5-pro"

grok := "hosted/grok-code"

smollm2 := "local/smollm2"

qa_route := {"stream": true, "max_cost_usd": 0.5, "context_budget_tokens": 8000}

code_route := {"stream": true, "max_cost_usd": 0.5, "context_budget_tokens": 32000}

# ---- routing -------------------------------------------------------------

test_first_eligible_candidate_is_chosen if {
	decision := router.decision with input as fixtures.input_for({}) with data.symphony.policy as fixtures.policy
	decision == {
		"allow": true,
		"model": gemini,
		"rule": "qa-default",
		"denial": null,
		"denial_kind": null,
		"route": qa_route,
		"candidates": [gemini, smollm2],
		"eligible": [gemini, smollm2],
		"reasons": [
			fixtures.chosen(gemini, "qa-default"),
			{"model": smollm2, "reason": "eligible", "detail": "eligible; next in line"},
		],
		"estimated_cost_usd": {gemini: 0.00278, smollm2: 0},
		"revision": null,
	}
}

test_spent_hosted_budget_falls_back_to_the_local_model if {
	spent := object.union(fixtures.input_for({}), {"models": {gemini: {"usd_today": 5}}})
	decision := router.decision with input as spent with data.symphony.policy as fixtures.policy
	decision == {
		"allow": true,
		"model": smollm2,
		"rule": "qa-default",
		"denial": null,
		"denial_kind": null,
		"route": qa_route,
		"candidates": [gemini, smollm2],
		"eligible": [smollm2],
		"reasons": [
			{"model": gemini, "reason": "budget_exhausted", "detail": "spent $5.00 of $5.00 today"},
			fixtures.chosen(smollm2, "qa-default"),
		],
		"estimated_cost_usd": {gemini: 0.00278, smollm2: 0},
		"revision": null,
	}
}

test_local_model_without_dollar_cap_serves_when_every_hosted_budget_is_spent if {
	spent := object.union(fixtures.input_for({"task": "code"}), {"models": {
		grok: {"usd_today": 3},
		gemini: {"usd_today": 5.2},
		smollm2: {"usd_today": 12.5},
	}})
	decision := router.decision with input as spent with data.symphony.policy as fixtures.policy
	decision == {
		"allow": true,
		"model": smollm2,
		"rule": "code-default",
		"denial": null,
		"denial_kind": null,
		"route": code_route,
		"candidates": [grok, gemini, smollm2],
		"eligible": [smollm2],
		"reasons": [
			{"model": grok, "reason": "budget_exhausted", "detail": "spent $3.00 of $3.00 today"},
			{"model": gemini, "reason": "budget_exhausted", "detail": "spent $5.20 of $5.00 today"},
			fixtures.chosen(smollm2, "code-default"),
		],
		"estimated_cost_usd": {grok: 0.000624, gemini: 0.00278, smollm2: 0},
		"revision": null,
	}
}

# Gemini keeps the last 10% of its $5.00 for essential rules; $0.40 is left.
reserved_policy := fixtures.policy_with({"models": array.concat(
	[object.union(fixtures.policy.models[0], {"reserve_fraction": 0.1})],
	array.slice(fixtures.policy.models, 1, 3),
)})

reserved_input := object.union(fixtures.input_for({}), {"models": {gemini: {"usd_today": 4.6}}})

test_reserved_budget_passes_a_non_essential_rule_to_its_fallback if {
	decision := router.decision with input as reserved_input with data.symphony.policy as reserved_policy
	decision.model == smollm2
	decision.reasons == [
		{
			"model": gemini,
			"reason": "budget_reserved",
			"detail": "reserved for essential rules: $0.40 of $5.00 left today (below 10%)",
		},
		fixtures.chosen(smollm2, "qa-default"),
	]
}

test_reserved_budget_serves_an_essential_rule if {
	rules := [object.union(rule, {"essential": rule.id == "qa-default"}) | some rule in reserved_policy.rules]
	essential := object.union(reserved_policy, {"rules": rules})
	decision := router.decision with input as reserved_input with data.symphony.policy as essential
	decision.model == gemini
	decision.eligible == [gemini, smollm2]
}

test_reserved_budget_alone_is_a_capacity_shortage if {
	only_gemini := object.union(fixtures.input_for({"task": "summarize"}), {"models": {
		gemini: {"usd_today": 4.6},
		smollm2: {"healthy": false},
	}})
	decision := router.decision with input as only_gemini with data.symphony.policy as reserved_policy
	[decision.denial, decision.denial_kind] == ["no_model_available", "capacity"]
	[r.reason | some r in decision.reasons] == ["unhealthy", "budget_reserved"]
}

test_rule_timeout_is_a_top_level_field_only_when_set if {
	rules := [object.union(rule, {"route": object.union(rule.route, {"timeout_s": 12.5})}) |
		some rule in fixtures.policy.rules
		rule.id == "qa-default"
	]
	timed := fixtures.policy_with({"rules": rules})
	router.decision.timeout_s == 12.5 with input as fixtures.input_for({}) with data.symphony.policy as timed
	denied := router.decision with input as fixtures.input_for({"model": grok}) with data.symphony.policy as timed
	[denied.denial, denied.timeout_s] == ["no_model_available", 12.5]
	untimed := router.decision with input as fixtures.input_for({}) with data.symphony.policy as fixtures.policy
	not "timeout_s" in object.keys(untimed)
	refused := router.decision with input as fixtures.input_for({"loa": 3}) with data.symphony.policy as timed
	not "timeout_s" in object.keys(refused)
}

test_closed_window_passes_over_the_model if {
	saturday := object.union(fixtures.input_for({"task": "code"}), {"now_ns": fixtures.saturday_morning})
	decision := router.decision with input as saturday with data.symphony.policy as fixtures.policy
	decision.model == gemini
	decision.reasons == [
		{"model": grok, "reason": "window_closed", "detail": "opens 08:00 Mon–Fri Europe/Berlin, in 1 d 22 h"},
		fixtures.chosen(gemini, "code-default"),
		{"model": smollm2, "reason": "eligible", "detail": "eligible; next in line"},
	]
}

test_same_request_uses_the_window_on_friday if {
	decision := router.decision with input as fixtures.input_for({"task": "code"})
		with data.symphony.policy as fixtures.policy
	decision.model == grok
	decision.eligible == [grok, gemini, smollm2]
}

test_unknown_time_zone_closes_every_window if {
	mars := fixtures.policy_with({"timezone": "Mars/Olympus_Mons"})
	decision := router.decision with input as fixtures.input_for({"task": "code"}) with data.symphony.policy as mars
	decision.reasons[0] == {
		"model": grok,
		"reason": "window_closed",
		"detail": "opens 08:00 Mon–Fri Mars/Olympus_Mons (unknown time zone)",
	}
	decision.model == gemini
}

test_eligible_candidates_are_ranked_after_the_chosen_one if {
	decision := router.decision with input as fixtures.input_for({"task": "review"})
		with data.symphony.policy as fixtures.policy
	decision.rule == "catch-all-low-autonomy"
	decision.reasons == [
		fixtures.chosen(gemini, "catch-all-low-autonomy"),
		{"model": grok, "reason": "eligible", "detail": "eligible; next in line"},
		{"model": smollm2, "reason": "eligible", "detail": "eligible; number 3 in line"},
	]
}

# ---- rules and candidates ------------------------------------------------

test_first_matching_rule_in_policy_order_wins if {
	tools := fixtures.input_for({"task": "code", "requires_tools": ["function_calling"]})
	with_tools := router.decision with input as tools with data.symphony.policy as fixtures.policy
	with_tools.rule == "code-with-tools"
	with_tools.candidates == [grok, gemini]
	with_tools.route == {"stream": true, "max_cost_usd": 1.0, "context_budget_tokens": 64000}

	plain := router.decision with input as fixtures.input_for({"task": "code"})
		with data.symphony.policy as fixtures.policy
	plain.rule == "code-default"
}

test_rule_loa_is_an_upper_bound if {
	at_bound := router.decision with input as fixtures.input_for({"loa": 2}) with data.symphony.policy as fixtures.policy
	at_bound.rule == "qa-default"

	above := router.decision with input as fixtures.input_for({"loa": 3, "risk": "high"})
		with data.symphony.policy as fixtures.policy
	above.rule == "high-risk-review"
	above.route == {"stream": false, "max_cost_usd": 2.0, "context_budget_tokens": null}
}

test_rule_naming_no_model_routes_to_every_model_in_policy_order if {
	decision := router.decision with input as fixtures.input_for({"task": "translate"})
		with data.symphony.policy as fixtures.policy
	decision.rule == "catch-all-low-autonomy"
	decision.route == {"stream": true, "max_cost_usd": null, "context_budget_tokens": null}
	decision.candidates == [gemini, grok, smollm2]
	decision.eligible == [gemini, smollm2]
	decision.reasons[1] == {
		"model": grok,
		"reason": "task_not_allowed",
		"detail": "task translate is not in the model's allow_tasks [code, review]",
	}
}

test_unknown_candidate_is_reported_not_crashed_on if {
	rules := [{"id": "ghost-first", "match": {}, "route": {"prefer": ["hosted/ghost", smollm2], "fallback": [smollm2]}}]
	decision := router.decision with input as fixtures.input_for({})
		with data.symphony.policy as fixtures.policy_with({"rules": rules})
	decision == {
		"allow": true,
		"model": smollm2,
		"rule": "ghost-first",
		"denial": null,
		"denial_kind": null,
		"route": {"stream": true, "max_cost_usd": null, "context_budget_tokens": null},
		"candidates": ["hosted/ghost", smollm2],
		"eligible": [smollm2],
		"reasons": [
			{"model": "hosted/ghost", "reason": "unknown_model", "detail": "hosted/ghost is not among the policy's models"},
			fixtures.chosen(smollm2, "ghost-first"),
		],
		"estimated_cost_usd": {smollm2: 0},
		"revision": null,
	}
}

test_named_model_is_the_only_candidate if {
	decision := router.decision with input as fixtures.input_for({"model": smollm2})
		with data.symphony.policy as fixtures.policy
	decision == {
		"allow": true,
		"model": smollm2,
		"rule": "qa-default",
		"denial": null,
		"denial_kind": null,
		"route": qa_route,
		"candidates": [smollm2],
		"eligible": [smollm2],
		"reasons": [fixtures.chosen(smollm2, "qa-default")],
		"estimated_cost_usd": {smollm2: 0},
		"revision": null,
	}
}

test_named_model_outside_the_route_is_not_available if {
	decision := router.decision with input as fixtures.input_for({"model": grok})
		with data.symphony.policy as fixtures.policy
	decision == {
		"allow": false,
		"model": null,
		"rule": "qa-default",
		"denial": "no_model_available",
		"denial_kind": "governance",
		"route": qa_route,
		"candidates": [],
		"eligible": [],
		"reasons": [{
			"model": grok,
			"reason": "not_in_route",
			"detail": concat(" ", [
				"hosted/grok-code was requested by name but rule qa-default",
				"routes to [hosted/gemini-1.5-pro, local/smollm2]",
			]),
		}],
		"estimated_cost_usd": {},
		"revision": null,
	}
}

test_named_model_that_fails_a_gate_is_not_replaced if {
	spent := object.union(fixtures.input_for({"model": gemini}), {"models": {gemini: {"usd_today": 5}}})
	decision := router.decision with input as spent with data.symphony.policy as fixtures.policy
	decision.denial == "no_model_available"
	decision.denial_kind == "capacity"
	decision.candidates == [gemini]
	decision.reasons == [{"model": gemini, "reason": "budget_exhausted", "detail": "spent $5.00 of $5.00 today"}]
}

# ---- no_model_available --------------------------------------------------

test_no_model_available_for_capacity_alone_is_capacity if {
	busy := object.union(fixtures.input_for({}), {"models": {
		gemini: {"rpm": 30},
		smollm2: {"cooling_down": true, "healthy": false},
	}})
	decision := router.decision with input as busy with data.symphony.policy as fixtures.policy
	decision == {
		"allow": false,
		"model": null,
		"rule": "qa-default",
		"denial": "no_model_available",
		"denial_kind": "capacity",
		"route": qa_route,
		"candidates": [gemini, smollm2],
		"eligible": [],
		"reasons": [
			{"model": gemini, "reason": "rpm_exhausted", "detail": "30 of 30 requests in the last 60 s"},
			{"model": smollm2, "reason": "cooling_down", "detail": "cooling down after repeated upstream failures"},
			{"model": smollm2, "reason": "unhealthy", "detail": "marked unhealthy by the proxy's probes"},
		],
		"estimated_cost_usd": {gemini: 0.00278, smollm2: 0},
		"revision": null,
	}
}

test_no_model_available_for_policy_reasons_is_governance if {
	hot := fixtures.input_for({"temperature": 1.5, "est_tokens": 8000})
	decision := router.decision with input as hot with data.symphony.policy as fixtures.policy
	decision.denial == "no_model_available"
	decision.denial_kind == "governance"
	decision.reasons == [
		{"model": gemini, "reason": "temperature_out_of_bounds", "detail": "temperature 1.5 is above the maximum 1"},
		{
			"model": smollm2,
			"reason": "context_too_small",
			"detail": "8000 input + 256 output tokens exceed the context of 8192 tokens",
		},
	]
	decision.estimated_cost_usd == {gemini: 0.01128, smollm2: 0}
}

test_one_candidate_held_back_by_capacity_alone_makes_it_capacity if {
	mixed := object.union(fixtures.input_for({"est_tokens": 8000}), {"models": {gemini: {"rpm": 30}}})
	decision := router.decision with input as mixed with data.symphony.policy as fixtures.policy
	[r.reason | some r in decision.reasons] == ["rpm_exhausted", "context_too_small"]
	decision.denial_kind == "capacity"
}

test_capacity_and_governance_on_every_candidate_is_governance if {
	both := object.union(fixtures.input_for({"temperature": 1.5, "est_tokens": 8000}), {"models": {
		gemini: {"rpm": 30},
		smollm2: {"healthy": false},
	}})
	decision := router.decision with input as both with data.symphony.policy as fixtures.policy
	decision.denial_kind == "governance"
}

# ---- model_windows -------------------------------------------------------

test_model_windows_reports_every_model if {
	states := router.model_windows with input as {"now_ns": fixtures.saturday_morning}
		with data.symphony.policy as fixtures.policy
	states == {
		gemini: {"open": true, "detail": "no usage windows: always open"},
		grok: {"open": false, "detail": "opens 08:00 Mon–Fri Europe/Berlin, in 1 d 22 h"},
		smollm2: {"open": true, "detail": "no usage windows: always open"},
	}
}

test_model_windows_open_inside_the_window if {
	states := router.model_windows with input as {"now_ns": fixtures.friday_morning}
		with data.symphony.policy as fixtures.policy
	states[grok] == {"open": true, "detail": "open 08:00–20:00 Mon–Fri Europe/Berlin"}
}

test_model_windows_without_a_clock_are_closed if {
	states := router.model_windows with input as {} with data.symphony.policy as fixtures.policy
	states[grok] == {"open": false, "detail": "opens 08:00 Mon–Fri Europe/Berlin (no clock in the input)"}
}

test_model_windows_is_empty_without_a_usable_policy if {
	count(router.model_windows) == 0 with input as {"now_ns": fixtures.friday_morning}
}
