# METADATA
# title: Symphony reason codes
# description: >-
#   Every reason code the router can report, defined once: its kind
#   (capacity means the request may pass once counters free up, governance
#   means the policy forbids it) and the sentence template its detail is
#   rendered from. Codes a guard invents are not listed and count as governance.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/strings#builtin-strings-sprintf
#     description: sprintf, used to render every detail
package symphony.reasons

# METADATA
# title: Reason codes
# description: >-
#   Code -> {kind, template}. kind is "capacity", "governance", or null for
#   the outcomes "chosen" and "eligible", which are not failures.
#   no_model_available is governance unless the router finds a candidate
#   that only capacity holds back.
codes := {
	# request-level denials
	"policy_invalid": {"kind": "governance", "template": "policy document unusable: %s"},
	"kill_switch": {
		"kind": "governance",
		"template": "kill switch is on and blocks LoA >= %v or risk in [%s]; this request has LoA %v, risk %s",
	},
	"no_matching_rule": {"kind": "governance", "template": "no rule matches task %s, LoA %v, risk %s, tools [%s]"},
	"no_model_available": {"kind": "governance", "template": "no candidate of rule %s passes every gate"},
	# per-model gates: capacity
	"window_closed": {"kind": "capacity", "template": "opens %s %s %s%s"},
	"rpm_exhausted": {"kind": "capacity", "template": "%v of %v requests in the last 60 s"},
	"tpm_exhausted": {"kind": "capacity", "template": "%v used + %v estimated exceeds %v tokens in the last 60 s"},
	"budget_exhausted": {"kind": "capacity", "template": "spent %s of %s today%s"},
	"budget_reserved": {"kind": "capacity", "template": "reserved for essential rules: %s of %s left today (below %s)"},
	"cooling_down": {"kind": "capacity", "template": "cooling down after repeated upstream failures"},
	"unhealthy": {"kind": "capacity", "template": "marked unhealthy by the proxy's probes"},
	# per-model gates: governance
	"unknown_model": {"kind": "governance", "template": "%s is not among the policy's models"},
	"not_in_route": {"kind": "governance", "template": "%s was requested by name but rule %s routes to [%s]"},
	"task_denied": {"kind": "governance", "template": "task %s is in the model's deny_tasks"},
	"task_not_allowed": {"kind": "governance", "template": "task %s is not in the model's allow_tasks [%s]"},
	"loa_exceeds_model": {"kind": "governance", "template": "LoA %v exceeds the model's maximum %v"},
	"context_too_small": {
		"kind": "governance",
		"template": "%v input + %v output tokens exceed the context of %v tokens",
	},
	"temperature_out_of_bounds": {"kind": "governance", "template": "temperature %v is %s"},
	"cost_over_route_max": {"kind": "governance", "template": "estimated %s exceeds the route maximum of %s"},
	"tool_unsupported": {"kind": "governance", "template": "the model does not offer [%s]"},
	# outcomes
	"chosen": {"kind": null, "template": "first eligible candidate of rule %s"},
	"eligible": {"kind": null, "template": "eligible; %s"},
}

# METADATA
# scope: document
# title: Kind of a reason code
# description: The code's kind; codes a guard invents count as governance.
default kind(_) := "governance"

kind(code) := codes[code].kind

# METADATA
# title: Reason entry
# description: One reasons[] entry, its detail rendered from the code's template.
entry(model, code, args) := {"model": model, "reason": code, "detail": sprintf(codes[code].template, args)}

# METADATA
# title: Dollar amount
# description: >-
#   Dollars for humans: cents when the amount is whole cents ("$5.00"),
#   otherwise four decimals ("$0.0028").
usd(amount) := sprintf("$%d.%02d", [floor(basis / 10000), (basis % 10000) / 100]) if {
	basis := round(amount * 10000)
	basis % 100 == 0
} else := sprintf("$%d.%04d", [floor(basis / 10000), basis % 10000]) if {
	basis := round(amount * 10000)
}
