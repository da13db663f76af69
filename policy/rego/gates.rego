# METADATA
# title: Symphony per-model gates
# description: >-
#   The gates a known model must pass to serve a request, each failing with a
#   stable reason code. Everything a gate needs arrives as arguments: the
#   policy's model entry, the model's live usage, the request's estimated cost
#   on it (computed once: Rego's decimal arithmetic is not free) and a context
#   object {request, route, essential, local_time, timezone, now_ns} the router
#   builds once (essential: whether the matched rule may use a reserved budget).
#   Gates are written as one-element comprehensions in two tables (capacity,
#   then governance) rather than one function per gate: a function call per
#   gate per model cost more than the gates themselves. A model that passes
#   every gate (the common case) is recognised first by one rule body, which
#   needs a quarter of the tables' evaluation steps: a query traced with
#   explain=notes pays for each step.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-language#comprehensions
#     description: comprehensions, one per gate
#   - ref: https://www.openpolicyagent.org/docs/policy-performance
#     description: why the gates avoid per-gate function calls
package symphony.gates

import data.symphony.reasons
import data.symphony.windows

# The price of a model the policy gives none.
_free := {"input_per_1k": 0, "output_per_1k": 0}

# Live usage of a model the proxy has not reported on yet.
_idle := {"rpm": 0, "tpm": 0, "usd_today": 0, "cooling_down": false, "healthy": true}

# METADATA
# title: Live usage
# description: >-
#   The live counters of model name from the input's models object, a model
#   missing from it counting as idle, healthy and not cooling down.
usage(live, name) := object.union(_idle, object.get(live, name, {}))

# METADATA
# title: Estimated cost
# description: >-
#   Dollars the request costs on model at most: est_tokens at the input price
#   plus max_output_tokens at the output price (both per 1,000 tokens),
#   rounded to a billionth of a dollar so float noise never reaches the
#   decision. No price, or a zero price, is free (and skips the arithmetic).
estimated_cost(model, request) := 0 if {
	price := object.get(model, "price", _free)
	price.input_per_1k == 0
	price.output_per_1k == 0
} else := round(millionths) / 1000000000 if {
	price := model.price
	millionths := ((request.est_tokens * price.input_per_1k) + (request.max_output_tokens * price.output_per_1k)) * 1000000
}

# METADATA
# title: Failing gates
# description: >-
#   One reason entry per gate model fails, in a fixed order (capacity gates,
#   then governance gates, each in the order written below); an empty array
#   means the model may serve the request. cost is estimated_cost(model, request).
failures(model, usage, cost, context) := [] if {
	_passes(model, usage, cost, context)
} else := array.concat(
	_capacity_failures(model, usage, cost, context),
	_governance_failures(model, cost, context),
)

# Every gate in one rule body, true only when neither table below would report
# a failure. Most candidates pass, and this takes a quarter of the evaluation
# steps of the tables: explain=notes traces every step. Anything it cannot
# decide leaves it undefined, and the tables then give the exact answer.
_passes(model, usage, cost, context) if {
	usage.rpm < model.rpm_cap
	request := context.request
	usage.tpm + request.est_tokens <= model.tpm_cap
	request.est_tokens + request.max_output_tokens <= model.context_tokens
	usage.cooling_down == false
	usage.healthy == true
	request.loa <= object.get(model, "loa_max", request.loa)
	not request.task in object.get(model, "deny_tasks", [])
	request.task in object.get(model, "allow_tasks", [request.task])
	every tool in request.requires_tools {
		tool in object.get(model, "tools", [])
	}
	_within_windows(object.get(model, "usage_windows", []), context.local_time)
	_within_money(model, usage.usd_today, cost, context.essential)
	_within_temperature(object.get(request, "temperature", null), object.get(model, "temperature_bounds", {}))
	_within_route_cost(cost, context.route.max_cost_usd)
}

_within_windows(window_list, local_time) if {
	count(window_list) == 0
} else if {
	windows.open(window_list, local_time)
}

_within_money(model, spent, cost, essential) if {
	not is_number(object.get(model, "daily_usd_cap", null))
} else if {
	cap := model.daily_usd_cap
	spent < cap
	spent + cost <= cap
	_unreserved(model, cap - spent, essential)
}

_unreserved(_, _, true)

_unreserved(model, _, false) if not is_number(object.get(model, "reserve_fraction", null))

_unreserved(model, left, false) if left >= model.reserve_fraction * model.daily_usd_cap

_within_temperature(temperature, bounds) if {
	not is_number(temperature)
} else if {
	object.get(bounds, "min", temperature) <= temperature
	temperature <= object.get(bounds, "max", temperature)
}

_within_route_cost(cost, max_cost) if {
	not is_number(max_cost)
} else if {
	cost <= max_cost
}

# Gates that open again as time passes: windows, rate limits, money, health.
_capacity_failures(model, usage, cost, context) := [failure |
	name := model.name
	some gate in [
		[reasons.entry(name, "window_closed", window_args(model.usage_windows, context)) |
			count(model.usage_windows) > 0
			not windows.open(model.usage_windows, context.local_time)
		],
		[reasons.entry(name, "rpm_exhausted", [usage.rpm, model.rpm_cap]) | usage.rpm >= model.rpm_cap],
		[reasons.entry(name, "tpm_exhausted", [usage.tpm, context.request.est_tokens, model.tpm_cap]) |
			usage.tpm + context.request.est_tokens > model.tpm_cap
		],
		# A model without daily_usd_cap is never blocked by money.
		[reasons.entry(name, "budget_exhausted", _budget_args(usage.usd_today, cost, model.daily_usd_cap)) |
			is_number(model.daily_usd_cap)
			_over_budget(usage.usd_today, cost, model.daily_usd_cap)
		],
		# The last reserve_fraction of the day's budget is kept for essential rules.
		[reasons.entry(name, "budget_reserved", _reserve_args(usage.usd_today, model)) |
			not context.essential
			is_number(model.reserve_fraction)
			is_number(model.daily_usd_cap)
			not _over_budget(usage.usd_today, cost, model.daily_usd_cap)
			model.daily_usd_cap - usage.usd_today < model.reserve_fraction * model.daily_usd_cap
		],
		[reasons.entry(name, "cooling_down", []) | usage.cooling_down == true],
		[reasons.entry(name, "unhealthy", []) | usage.healthy == false],
	]
	some failure in gate
]

# Gates the policy closes for this request whatever the counters say.
_governance_failures(model, cost, context) := [failure |
	name := model.name
	request := context.request
	some gate in [
		[reasons.entry(name, "task_denied", [request.task]) | request.task in model.deny_tasks],
		[reasons.entry(name, "task_not_allowed", [request.task, concat(", ", allowed)]) |
			allowed := model.allow_tasks
			not request.task in allowed
		],
		[reasons.entry(name, "loa_exceeds_model", [request.loa, model.loa_max]) | request.loa > model.loa_max],
		[reasons.entry(name, "context_too_small", [request.est_tokens, request.max_output_tokens, model.context_tokens]) |
			request.est_tokens + request.max_output_tokens > model.context_tokens
		],
		[reasons.entry(name, "temperature_out_of_bounds", [request.temperature, problem]) |
			is_number(request.temperature)
			problem := _temperature_problem(request.temperature, model.temperature_bounds)
		],
		[reasons.entry(name, "cost_over_route_max", [reasons.usd(cost), reasons.usd(context.route.max_cost_usd)]) |
			is_number(context.route.max_cost_usd)
			cost > context.route.max_cost_usd
		],
		[reasons.entry(name, "tool_unsupported", [concat(", ", missing)]) |
			missing := [tool | some tool in request.requires_tools; not tool in object.get(model, "tools", [])]
			count(missing) > 0
		],
	]
	some failure in gate
]

# METADATA
# title: Window sentence
# description: >-
#   The window_closed arguments for window_list, closed at context.now_ns:
#   the soonest opening's start, its days, the time zone and how long until
#   then ("opens 09:00 Mon–Fri Europe/Berlin, in 2 h 13 min"). Without a
#   clock (context.now_ns null) or with an unknown time zone (local_time null)
#   the first window is named instead; windows on no valid day (the schema
#   forbids them) never open.
window_args(window_list, context) := _opening_args(window_list[0], context.timezone, " (no clock in the input)") if {
	context.now_ns == null
} else := _opening_args(window_list[0], context.timezone, " (unknown time zone)") if {
	context.local_time == null
} else := _opening_args(opening.window, context.timezone, sprintf(", in %s", [windows.duration(opening.minutes)])) if {
	opening := windows.next_opening(window_list, context.now_ns, context.timezone)
} else := _opening_args(window_list[0], context.timezone, ", never")

_opening_args(window, timezone, when) := [window.start, windows.days(window), timezone, when]

_over_budget(spent, _, cap) if spent >= cap

_over_budget(spent, cost, cap) if spent + cost > cap

_budget_args(spent, cost, cap) := [reasons.usd(spent), reasons.usd(cap), _budget_note(spent, cost, cap)]

_reserve_args(spent, model) := [
	reasons.usd(model.daily_usd_cap - spent),
	reasons.usd(model.daily_usd_cap),
	sprintf("%v%%", [round(model.reserve_fraction * 10000) / 100]),
]

_budget_note(spent, cost, cap) := "" if {
	spent >= cap
} else := sprintf("; this request would add an estimated %s", [reasons.usd(cost)])

_temperature_problem(temperature, bounds) := sprintf("below the minimum %v", [bounds.min]) if {
	temperature < bounds.min
} else := sprintf("above the maximum %v", [bounds.max]) if {
	temperature > bounds.max
}
