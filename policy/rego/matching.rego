# METADATA
# title: Symphony rule matching
# description: >-
#   Which rule of the policy governs a request, and the candidate models that
#   rule routes to. Rules are tried in policy order and the first match wins.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-language#every-keyword
#     description: every, used for the requires_tools subset test
package symphony.matching

# METADATA
# title: First matching rule
# description: The first rule of rules, in order, whose match the request meets; undefined when none does.
first_match(rules, request) := rules[indexes[0]] if {
	# matches(), inlined with the request's fields read once: a function call
	# per rule costs more than the match itself.
	task := request.task
	loa := request.loa
	risk := request.risk

	# Each field read by path, match or field missing giving the default: one
	# call per check, and most rules fail at the first.
	indexes := [i |
		some i, rule in rules
		object.get(rule, ["match", "task"], task) == task
		loa <= object.get(rule, ["match", "loa"], loa)
		object.get(rule, ["match", "risk"], risk) == risk
		every tool in object.get(rule, ["match", "requires_tools"], []) {
			tool in request.requires_tools
		}
	]
	count(indexes) > 0
}

# METADATA
# title: Rule match
# description: >-
#   True when every field present in match holds: task equal, request LoA at
#   or below the rule's loa, risk equal, and the request needing every tool in
#   the rule's requires_tools. An empty match matches every request.
matches(match, request) if {
	object.get(match, "task", request.task) == request.task
	request.loa <= object.get(match, "loa", request.loa)
	object.get(match, "risk", request.risk) == request.risk
	every tool in object.get(match, "requires_tools", []) {
		tool in request.requires_tools
	}
}

# METADATA
# title: Rule candidates
# description: >-
#   The route's prefer list then its fallback list, first occurrence kept;
#   when the route names no model, every name in model_names (policy order).
candidates(route, model_names) := _first_occurrences(listed) if {
	listed := array.concat(object.get(route, "prefer", []), object.get(route, "fallback", []))
	count(listed) > 0
} else := model_names

# METADATA
# title: Requested candidates
# description: >-
#   Narrows a rule's candidates to the model the request names: all of them
#   for "auto", the named model when the rule routes to it, otherwise none.
requested(candidates, model) := candidates if {
	model == "auto"
} else := [model] if {
	model in candidates
} else := []

# METADATA
# title: Route settings
# description: The decision's route object; stream defaults to true, omitted limits are null.
settings(route) := {
	"stream": object.get(route, "stream", true),
	"max_cost_usd": object.get(route, "max_cost_usd", null),
	"context_budget_tokens": object.get(route, "context_budget_tokens", null),
}

# Lists are a handful of names, so the prefix scan stays cheap.
_first_occurrences(names) := [name |
	some i, name in names
	not name in array.slice(names, 0, i)
]
