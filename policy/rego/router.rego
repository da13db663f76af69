# METADATA
# title: Symphony router
# description: >-
#   The entry point: data.symphony.router.decision, one object that is always
#   defined, saying whether the request may be served, by which model, under
#   which rule, and why every candidate was or was not picked. The policy
#   document is data.symphony.policy; live counters arrive in input.
#   Governance teams add checks as packages symphony.guards.<name> with a
#   deny set of {model?, reason, detail} objects.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/rest-api#get-a-document-with-input
#     description: how the proxy queries the decision (explain=notes, metrics=true)
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/tracing#builtin-tracing-trace
#     description: trace, whose notes explain=notes returns
package symphony.router

import data.symphony.document
import data.symphony.gates
import data.symphony.matching
import data.symphony.reasons
import data.symphony.windows

# What the kill switch blocks when the policy does not say.
_kill_switch_defaults := {"loa_at_or_above": 2, "risks": ["high"]}

# METADATA
# title: Routing decision
# description: >-
#   {allow, model, rule, denial, denial_kind, route, candidates, eligible,
#   reasons, estimated_cost_usd, revision}, plus timeout_s when the matched
#   rule's route sets it. Denials take precedence in this order:
#   policy_invalid, kill_switch, a guard's request-level denial,
#   no_matching_rule, no_model_available.
# entrypoint: true
default decision := {
	"allow": false,
	"model": null,
	"rule": null,
	"denial": "policy_invalid",
	"denial_kind": "governance",
	"route": null,
	"candidates": [],
	"eligible": [],
	"reasons": [{"model": null, "reason": "policy_invalid", "detail": "no decision could be made for this input"}],
	"estimated_cost_usd": {},
	"revision": null,
}

decision := _refusal("policy_invalid", [_policy_problem]) if {
	_policy_problem
} else := _refusal("kill_switch", _kill_switch_args) if {
	input.kill_switch == true
	_kill_switch_covers(_kill_switch, input.request)
} else := _guard_refusal if {
	count(_request_guards) > 0
} else := _refusal("no_matching_rule", _no_rule_args) if {
	not _rule
} else := _routed

# A denial decided before any model is considered: one reason, model null.
# Written out rather than merged into _no_route: this is the whole cost of a
# denial, and the detail is rendered once for both the reason and the trace.
_refusal(code, args) := {
	"allow": false,
	"model": null,
	"rule": null,
	"denial": code,
	"denial_kind": definition.kind,
	"route": null,
	"candidates": [],
	"eligible": [],
	"reasons": [{"model": null, "reason": code, "detail": detail}],
	"estimated_cost_usd": {},
	"revision": _bundle_revision,
} if {
	# reasons.entry, inlined: the code's definition is needed for its kind too.
	definition := reasons.codes[code]
	detail := sprintf(definition.template, args)
	trace(sprintf("denied %s: %s", [code, detail]))
}

_no_route := {
	"allow": false,
	"model": null,
	"rule": null,
	"route": null,
	"candidates": [],
	"eligible": [],
	"estimated_cost_usd": {},
	"revision": _bundle_revision,
}

# ---- the bundle revision ------------------------------------------------

# The revision of the bundle this decision was evaluated under (its manifest
# revision, "r<number>-<hash>"), null when the policy did not come from the
# Symphony bundle: the proxy refuses a decision it cannot tie to the store.
default _bundle_revision := null

_bundle_revision := data.system.bundles.symphony.manifest.revision

# ---- the policy document -------------------------------------------------

# Read once: every other rule goes through _policy.
_policy := data.symphony.policy

_policy_problem := _document_problem if not is_string(_bundle_revision)

# A document that arrived in the Symphony bundle (the only bundle with a
# manifest revision the router reads) passed the proxy's full schema and
# semantic checks, a superset of these, before its revision could be
# activated, so it is not checked again on every query. A document from
# anywhere else (opa test, opa eval, a hand-loaded data file) is.
_document_problem := "no policy document at data.symphony.policy" if {
	not _policy
} else := document.problem(_policy)

# Complete rules rather than partial objects, here and for _costs and
# _failures: every lookup of a partial object with a computed key scans its
# whole body again, and traced queries (explain=notes) pay for every step.
# regal ignore:prefer-set-or-object-rule
_models := {model.name: model | some model in _policy.models}

# ---- kill switch ---------------------------------------------------------

_kill_switch := object.union(_kill_switch_defaults, object.get(_policy, "kill_switch", {}))

_kill_switch_covers(kill_switch, request) if request.loa >= kill_switch.loa_at_or_above

_kill_switch_covers(kill_switch, request) if request.risk in kill_switch.risks

_kill_switch_args := [
	_kill_switch.loa_at_or_above,
	concat(", ", _kill_switch.risks),
	input.request.loa,
	input.request.risk,
]

# ---- guards (extension point) --------------------------------------------

# Only data.symphony.guards is iterated: the policy document lives beside it.
_guard_denials contains denial if {
	some guard in data.symphony.guards
	some denial in guard.deny
	is_string(denial.reason)
}

_request_guards := [_guard_entry(null, denial) |
	some denial in _guard_denials
	object.get(denial, "model", null) == null
]

_guard_refusal := object.union(_no_route, {
	"denial": _request_guards[0].reason,
	"denial_kind": "governance",
	"reasons": _request_guards,
}) if {
	trace(sprintf("denied by guard: %s: %s", [_request_guards[0].reason, _request_guards[0].detail]))
}

_guard_failures(denials, name) := [_guard_entry(name, denial) | some denial in denials; denial.model == name]

_guard_entry(name, denial) := {"model": name, "reason": denial.reason, "detail": object.get(denial, "detail", "")}

# ---- rule and candidates -------------------------------------------------

_rule := rule if {
	rule := matching.first_match(_policy.rules, input.request)
	trace(sprintf("rule %s matched", [rule.id]))
}

_no_rule_args := [
	input.request.task,
	input.request.loa,
	input.request.risk,
	concat(", ", input.request.requires_tools),
]

_route := matching.settings(_rule.route)

_requested_model := object.get(input.request, "model", "auto")

_rule_candidates := matching.candidates(_rule.route, [model.name | some model in _policy.models])

_candidates := matching.requested(_rule_candidates, _requested_model)

default _not_in_route := []

_not_in_route := [reasons.entry(_requested_model, "not_in_route", args)] if {
	_requested_model != "auto"
	not _requested_model in _rule_candidates
	args := [_requested_model, _rule.id, concat(", ", _rule_candidates)]
}

# ---- gates, evaluated once per candidate ---------------------------------

# null when the time zone is unknown: every window then counts as closed.
default _local_time := null

_local_time := windows.local_time(input.now_ns, _policy.timezone)

# Only the window gate reads the local time, so a request whose candidates
# have no usage windows skips the time zone arithmetic.
default _gate_local_time := null

_gate_local_time := _local_time if {
	some name in _candidates
	_models[name].usage_windows
}

_context := {
	"request": input.request,
	"route": _route,
	"essential": object.get(_rule, "essential", false) == true,
	"local_time": _gate_local_time,
	"timezone": _policy.timezone,
	"now_ns": _now_ns,
}

# The decision's clock; null (every window closed) when the proxy sent none.
default _now_ns := null

_now_ns := input.now_ns

# Estimated cost of every known candidate, computed once and reused by the gates.
# regal ignore:prefer-set-or-object-rule
_costs := {name: gates.estimated_cost(model, input.request) |
	some name in _candidates
	model := _models[name]
}

# regal ignore:prefer-set-or-object-rule
_failures := {name: _candidate_failures(name) | some name in _candidates}

_candidate_failures(name) := array.concat(gates.failures(model, usage, _costs[name], _context), guards) if {
	model := _models[name]
	usage := gates.usage(object.get(input, "models", {}), name)
	guards := _guard_failures(_guard_denials, name)
} else := _unknown_model(name)

_unknown_model(name) := [reasons.entry(name, "unknown_model", [name])]

_eligible := [name | some name in _candidates; count(_failures[name]) == 0]

# ---- usage windows for the dashboard ------------------------------------

# METADATA
# title: Usage windows of every model
# description: >-
#   {model name: {open, detail}} at input.now_ns, for the proxy's model
#   status rows; the same window evaluation the window_closed gate uses, and
#   when closed its sentence ("opens 09:00 Mon–Fri Europe/Berlin, in 2 h 13
#   min"), when open the windows ("open 09:00–17:00 Mon–Fri Europe/Berlin").
#   Needs only now_ns in input.
# entrypoint: true
model_windows[model.name] := _window_state(model, _clock) if {
	not _policy_problem
	some model in _policy.models
}

# What the window gate reads of a context, for the dashboard's rows.
_clock := {"local_time": _local_time, "timezone": _policy.timezone, "now_ns": _now_ns}

_window_state(model, clock) := {"open": true, "detail": sprintf("open %s %s", [described, clock.timezone])} if {
	count(model.usage_windows) > 0
	windows.open(model.usage_windows, clock.local_time)
	described := windows.describe(model.usage_windows)
} else := {"open": false, "detail": detail} if {
	count(model.usage_windows) > 0
	detail := reasons.entry(model.name, "window_closed", gates.window_args(model.usage_windows, clock)).detail
} else := {"open": true, "detail": "no usage windows: always open"}

# ---- the routed decision -------------------------------------------------

_routed := object.union(_routing, {"allow": true, "model": _eligible[0], "denial": null, "denial_kind": null}) if {
	count(_eligible) > 0
	trace(sprintf("model %s chosen from eligible [%s]", [_eligible[0], concat(", ", _eligible)]))
} else := object.union(_routing, {
	"allow": false,
	"model": null,
	"denial": "no_model_available",
	"denial_kind": _shortage_kind,
}) if {
	trace(sprintf("denied no_model_available (%s): %s", [
		_shortage_kind,
		sprintf(reasons.codes.no_model_available.template, [_rule.id]),
	]))
}

_routing := object.union(_rule_timeout, {
	"rule": _rule.id,
	"route": _route,
	"candidates": _candidates,
	"eligible": _eligible,
	"reasons": array.concat(_not_in_route, _candidate_reasons),
	"estimated_cost_usd": _costs,
	"revision": _bundle_revision,
})

# The upstream read timeout the matched rule sets, as a top-level timeout_s;
# absent from the decision when the rule sets none.
default _rule_timeout := {}

_rule_timeout := {"timeout_s": _rule.route.timeout_s} if is_number(_rule.route.timeout_s)

_candidate_reasons := [entry |
	some name in _candidates
	some entry in _outcome(name, _failures[name], _eligible, _rule.id)
]

_outcome(_, failures, _, _) := failures if count(failures) > 0

_outcome(name, [], eligible, rule_id) := [reasons.entry(name, "chosen", [rule_id])] if name == eligible[0]

_outcome(name, [], eligible, _) := [reasons.entry(name, "eligible", [_place(rank)])] if {
	some rank, candidate in eligible
	candidate == name
	rank > 0
}

_place(1) := "next in line"

_place(rank) := sprintf("number %d in line", [rank + 1]) if rank > 1

# capacity when some candidate is held back by capacity alone and would
# pass once counters free up; governance otherwise.
default _shortage_kind := "governance"

_shortage_kind := "capacity" if {
	some name in _candidates
	every failure in _failures[name] {
		reasons.kind(failure.reason) == "capacity"
	}
}
