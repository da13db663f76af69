# METADATA
# title: Tests for symphony.reasons
# description: The reason code table, kinds, rendered entries and dollar formatting.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.reasons_test

import data.symphony.reasons

test_every_code_has_a_kind_and_a_template if {
	every code, definition in reasons.codes {
		is_string(code)
		definition.kind in {"capacity", "governance", null}
		is_string(definition.template)
	}
}

test_capacity_codes_are_the_ones_that_free_up_with_time if {
	{code | some code, definition in reasons.codes; definition.kind == "capacity"} == {
		"window_closed", "rpm_exhausted", "tpm_exhausted",
		"budget_exhausted", "budget_reserved", "cooling_down", "unhealthy",
	}
}

test_every_documented_code_is_defined if {
	documented := {
		"policy_invalid", "kill_switch", "no_matching_rule", "no_model_available",
		"window_closed", "rpm_exhausted", "tpm_exhausted", "budget_exhausted",
		"budget_reserved", "cooling_down", "unhealthy", "unknown_model", "not_in_route", "task_denied",
		"task_not_allowed", "loa_exceeds_model", "context_too_small",
		"temperature_out_of_bounds", "cost_over_route_max", "tool_unsupported",
		"chosen", "eligible",
	}
	object.keys(reasons.codes) == documented
}

test_kind_of_a_known_code if {
	reasons.kind("rpm_exhausted") == "capacity"
	reasons.kind("task_denied") == "governance"
}

test_codes_a_guard_invents_are_governance if {
	reasons.kind("pii_detected") == "governance"
}

test_entry_renders_the_template if {
	reasons.entry("hosted/x", "rpm_exhausted", [30, 30]) == {
		"model": "hosted/x",
		"reason": "rpm_exhausted",
		"detail": "30 of 30 requests in the last 60 s",
	}
}

test_usd_shows_whole_cents_with_two_decimals if {
	reasons.usd(5) == "$5.00"
	reasons.usd(0.5) == "$0.50"
	reasons.usd(0) == "$0.00"
	reasons.usd(1234.1) == "$1234.10"
}

test_usd_shows_fractions_of_a_cent_with_four_decimals if {
	reasons.usd(0.00278) == "$0.0028"
	reasons.usd(2.34567) == "$2.3457"
}
