# METADATA
# title: Tests for symphony.document
# description: The structural checks behind policy_invalid.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.document_test

import data.symphony.document
import data.symphony.fixtures

policy := fixtures.policy

test_example_policy_is_usable if {
	not document.problem(policy)
}

test_policy_without_kill_switch_section_is_usable if {
	not document.problem(object.remove(policy, ["kill_switch"]))
}

test_document_must_be_an_object if {
	document.problem([]) == "the policy document is not an object"
}

test_models_must_be_an_array if {
	document.problem(object.remove(policy, ["models"])) == "models is not an array"
	document.problem(object.union(policy, {"models": {}})) == "models is not an array"
}

test_rules_must_be_an_array if {
	document.problem(object.remove(policy, ["rules"])) == "rules is not an array"
}

test_timezone_must_be_a_string if {
	document.problem(object.union(policy, {"timezone": 1})) == "timezone is not a string"
	document.problem(object.remove(policy, ["timezone"])) == "timezone is not a string"
}

test_models_need_name_and_caps if {
	models := array.concat(policy.models, [{"name": "local/broken", "context_tokens": 8192}])
	problem := document.problem(object.union(policy, {"models": models}))
	problem == "models[3] lacks a string name or numeric context_tokens, rpm_cap, tpm_cap"
}

test_model_names_must_be_unique if {
	models := array.concat(policy.models, [policy.models[0]])
	document.problem(object.union(policy, {"models": models})) == "model names are not unique"
}

test_rules_need_id_match_and_route if {
	rules := array.concat(policy.rules, [{"id": "no-route", "match": {}}])
	document.problem(object.union(policy, {"rules": rules})) == "rules[7] lacks a string id or an object match and route"
}

test_kill_switch_must_be_well_formed if {
	broken := object.union(policy, {"kill_switch": {"risks": "high"}})
	document.problem(broken) == "kill_switch is not an object with a numeric loa_at_or_above and an array of risks"
}
