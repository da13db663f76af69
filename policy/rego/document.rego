# METADATA
# title: Symphony policy document checks
# description: >-
#   The structural checks the router needs before it can trust the policy
#   document at data.symphony.policy. The proxy validates the full JSON schema
#   on every write, and the router trusts a document that arrived in the
#   Symphony bundle; for a document from anywhere else this is the last line
#   of defence, so that it denies with policy_invalid instead of routing by
#   accident.
# related_resources:
#   - ref: https://json-schema.org/draft/2020-12/schema
#     description: the dialect of schemas/policy.schema.json, which the proxy enforces in full
package symphony.document

# METADATA
# title: First problem
# description: >-
#   A sentence naming the first structural problem of policy, undefined when
#   the router can use it.
problem(policy) := "the policy document is not an object" if {
	not is_object(policy)
} else := "models is not an array" if {
	not is_array(object.get(policy, "models", null))
} else := "rules is not an array" if {
	not is_array(object.get(policy, "rules", null))
} else := "timezone is not a string" if {
	not is_string(object.get(policy, "timezone", null))
} else := sprintf("models[%d] lacks a string name or numeric context_tokens, rpm_cap, tpm_cap", [i]) if {
	# Counted inline first: the index is only needed on failure.
	count(_usable_models(policy.models)) != count(policy.models)
	i := min({i | some i, model in policy.models; not model in _usable_models(policy.models)})
} else := "model names are not unique" if {
	count({model.name | some model in policy.models}) != count(policy.models)
} else := sprintf("rules[%d] lacks a string id or an object match and route", [i]) if {
	count(_usable_rules(policy.rules)) != count(policy.rules)
	i := min({i | some i, rule in policy.rules; not rule in _usable_rules(policy.rules)})
} else := "kill_switch is not an object with a numeric loa_at_or_above and an array of risks" if {
	not _usable_kill_switch(object.get(policy, "kill_switch", {}))
}

_usable_models(models) := [model |
	some model in models
	is_string(model.name)
	is_number(model.context_tokens)
	is_number(model.rpm_cap)
	is_number(model.tpm_cap)
]

_usable_rules(rules) := [rule |
	some rule in rules
	is_string(rule.id)
	is_object(rule.match)
	is_object(rule.route)
]

_usable_kill_switch(kill_switch) if {
	is_object(kill_switch)
	is_number(object.get(kill_switch, "loa_at_or_above", 0))
	is_array(object.get(kill_switch, "risks", []))
}
