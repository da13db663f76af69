# METADATA
# title: Tests for symphony.router (denials and guards)
# description: >-
#   Decision-level denials, their precedence, and the guard extension point.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.router_denials_test

import data.symphony.fixtures
import data.symphony.router

gemini := "hosted/gemini-1.5-pro"

grok := "hosted/grok-code"

smollm2 := "local/smollm2"

# ---- decision-level denials and their precedence -------------------------

test_missing_policy_document_is_policy_invalid if {
	router.decision with input as fixtures.input_for({}) == fixtures.refused(
		"policy_invalid",
		"policy document unusable: no policy document at data.symphony.policy",
	)
}

test_malformed_policy_document_is_policy_invalid if {
	decision := router.decision with input as fixtures.input_for({})
		with data.symphony.policy as fixtures.policy_with({"rules": {}})
	decision == fixtures.refused("policy_invalid", "policy document unusable: rules is not an array")
}

test_a_bundle_document_is_trusted_as_checked_at_write_and_still_fails_closed if {
	bundles := {"symphony": {"manifest": {"revision": "r7-0123456789abcdef"}}}

	# The proxy validated it before activating the revision: no per-query check.
	broken := fixtures.policy_with({"rules": {}})
	decision := router.decision with input as fixtures.input_for({})
		with data.symphony.policy as broken
		with data.system.bundles as bundles
	[decision.allow, decision.denial, decision.revision] == [false, "no_matching_rule", "r7-0123456789abcdef"]

	# Without a bundle the same document is refused as policy_invalid.
	unchecked := router.decision with input as fixtures.input_for({}) with data.symphony.policy as broken
	unchecked.denial == "policy_invalid"
}

test_kill_switch_blocks_loa_at_or_above_the_threshold if {
	on := object.union(fixtures.input_for({"loa": 2}), {"kill_switch": true})
	decision := router.decision with input as on with data.symphony.policy as fixtures.policy
	decision == fixtures.refused(
		"kill_switch",
		"kill switch is on and blocks LoA >= 2 or risk in [high]; this request has LoA 2, risk low",
	)
}

test_kill_switch_blocks_listed_risks if {
	on := object.union(fixtures.input_for({"loa": 0, "risk": "high"}), {"kill_switch": true})
	decision := router.decision with input as on with data.symphony.policy as fixtures.policy
	decision.denial == "kill_switch"
}

test_kill_switch_lets_low_risk_requests_through if {
	on := object.union(fixtures.input_for({}), {"kill_switch": true})
	decision := router.decision with input as on with data.symphony.policy as fixtures.policy
	decision.allow == true
}

test_kill_switch_off_blocks_nothing if {
	decision := router.decision with input as fixtures.input_for({"loa": 2, "risk": "high"})
		with data.symphony.policy as fixtures.policy
	decision.allow == true
	decision.rule == "qa-default"
}

test_kill_switch_defaults_without_a_policy_section if {
	no_section := object.remove(fixtures.policy, ["kill_switch"])
	loa := object.union(fixtures.input_for({"loa": 2}), {"kill_switch": true})
	risk := object.union(fixtures.input_for({"risk": "high"}), {"kill_switch": true})
	low := object.union(fixtures.input_for({"loa": 1, "risk": "medium"}), {"kill_switch": true})

	by_loa := router.decision with input as loa with data.symphony.policy as no_section
	by_loa.denial == "kill_switch"
	by_risk := router.decision with input as risk with data.symphony.policy as no_section
	by_risk.denial == "kill_switch"
	passed := router.decision with input as low with data.symphony.policy as no_section
	passed.allow == true
}

test_kill_switch_thresholds_come_from_the_policy if {
	lenient := fixtures.policy_with({"kill_switch": {"loa_at_or_above": 3, "risks": []}})
	on := object.union(fixtures.input_for({"loa": 2, "risk": "high"}), {"kill_switch": true})
	decision := router.decision with input as on with data.symphony.policy as lenient
	decision.allow == true
}

test_partial_kill_switch_section_keeps_the_default_for_the_missing_key if {
	medium := fixtures.policy_with({"kill_switch": {"risks": ["medium"]}})
	by_loa := object.union(fixtures.input_for({"loa": 2}), {"kill_switch": true})
	by_risk := object.union(fixtures.input_for({"risk": "medium"}), {"kill_switch": true})
	high := object.union(fixtures.input_for({"risk": "high"}), {"kill_switch": true})

	denied_by_loa := router.decision with input as by_loa with data.symphony.policy as medium
	denied_by_loa.denial == "kill_switch"
	denied_by_risk := router.decision with input as by_risk with data.symphony.policy as medium
	denied_by_risk.denial == "kill_switch"
	passed := router.decision with input as high with data.symphony.policy as medium
	passed.allow == true
}

test_no_matching_rule if {
	decision := router.decision with input as fixtures.input_for({"loa": 3}) with data.symphony.policy as fixtures.policy
	decision == fixtures.refused("no_matching_rule", "no rule matches task qa, LoA 3, risk low, tools []")
}

test_policy_invalid_comes_before_the_kill_switch if {
	on := object.union(fixtures.input_for({"loa": 3}), {"kill_switch": true})
	decision := router.decision with input as on with data.symphony.policy as fixtures.policy_with({"timezone": null})
	decision.denial == "policy_invalid"
}

test_kill_switch_comes_before_guards if {
	on := object.union(fixtures.input_for({"task": "pii_test_block", "loa": 2}), {"kill_switch": true})
	decision := router.decision with input as on with data.symphony.policy as fixtures.policy
	decision.denial == "kill_switch"
}

test_malformed_input_still_gets_a_denial if {
	decision := router.decision with input as {} with data.symphony.policy as fixtures.policy
	decision == fixtures.refused("policy_invalid", "no decision could be made for this input")
}

test_decision_always_has_every_key if {
	keys := {
		"allow", "model", "rule", "denial", "denial_kind", "route",
		"candidates", "eligible", "reasons", "estimated_cost_usd", "revision",
	}
	every changes in [{}, {"loa": 3}, {"model": grok}, {"est_tokens": 900000}] {
		decision := router.decision with input as fixtures.input_for(changes) with data.symphony.policy as fixtures.policy
		object.keys(decision) == keys
	}
}

# ---- the bundle revision --------------------------------------------------

test_decision_names_the_bundle_revision_it_was_evaluated_under if {
	bundles := {"symphony": {"manifest": {"revision": "r7-0123456789abcdef"}}}
	every changes in [{}, {"loa": 3}, {"task": "nothing-matches"}] {
		decision := router.decision with input as fixtures.input_for(changes)
			with data.symphony.policy as fixtures.policy
			with data.system.bundles as bundles
		decision.revision == "r7-0123456789abcdef"
	}
}

test_decision_without_a_bundle_names_no_revision if {
	decision := router.decision with input as fixtures.input_for({}) with data.symphony.policy as fixtures.policy
	decision.revision == null
}

# ---- guards --------------------------------------------------------------

test_test_guard_is_silent_for_other_requests if {
	count(data.symphony.guards.test_pii.deny) == 0 with input as fixtures.input_for({})
}

test_guard_with_a_model_gates_that_model if {
	decision := router.decision with input as fixtures.input_for({"task": "pii_test"})
		with data.symphony.policy as fixtures.policy
	decision.model == smollm2
	decision.eligible == [smollm2]
	decision.reasons == [
		{"model": gemini, "reason": "pii_detected", "detail": "personal data may not leave for hosted/gemini-1.5-pro"},
		{
			"model": grok,
			"reason": "task_not_allowed",
			"detail": "task pii_test is not in the model's allow_tasks [code, review]",
		},
		fixtures.chosen(smollm2, "catch-all-low-autonomy"),
	]
}

test_guard_without_a_model_denies_the_request if {
	decision := router.decision with input as fixtures.input_for({"task": "pii_test_block"})
		with data.symphony.policy as fixtures.policy
	decision == fixtures.refused("pii_blocked", "requests marked pii_test_block are refused")
}

test_guard_denial_comes_before_no_matching_rule if {
	decision := router.decision with input as fixtures.input_for({"task": "pii_test_block", "loa": 3})
		with data.symphony.policy as fixtures.policy
	decision.denial == "pii_blocked"
}

test_guards_gating_every_candidate_leave_no_model_available if {
	guards := {"residency": {"deny": {
		{"model": gemini, "reason": "data_residency", "detail": "EU data stays in the EU"},
		{"model": smollm2, "reason": "data_residency", "detail": "EU data stays in the EU"},
		{"model": smollm2, "reason": "maintenance", "detail": "host patching until 12:00"},
	}}}
	decision := router.decision with input as fixtures.input_for({})
		with data.symphony.policy as fixtures.policy
		with data.symphony.guards as guards
	decision.denial == "no_model_available"
	decision.denial_kind == "governance"
	decision.reasons == [
		{"model": gemini, "reason": "data_residency", "detail": "EU data stays in the EU"},
		{"model": smollm2, "reason": "data_residency", "detail": "EU data stays in the EU"},
		{"model": smollm2, "reason": "maintenance", "detail": "host patching until 12:00"},
	]
}

test_malformed_guard_entries_are_ignored if {
	guards := {"sloppy": {"deny": {"no reason given", {"model": gemini}}}}
	decision := router.decision with input as fixtures.input_for({})
		with data.symphony.policy as fixtures.policy
		with data.symphony.guards as guards
	decision.model == gemini
}
