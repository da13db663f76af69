# METADATA
# title: Tests for symphony.gates
# description: Every per-model gate, its edges, its detail sentence, and the reporting order.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.gates_test

import data.symphony.fixtures
import data.symphony.gates
import data.symphony.windows

model := {
	"name": "hosted/test",
	"provider": "test",
	"class": "hosted",
	"context_tokens": 8192,
	"rpm_cap": 10,
	"tpm_cap": 10000,
	"daily_usd_cap": 1,
	"price": {"input_per_1k": 0.01, "output_per_1k": 0.02},
}

idle := gates.usage({}, "hosted/test")

# Friday 10:00 in Berlin, a route without limits.
context := {
	"request": fixtures.request,
	"route": {"stream": true, "max_cost_usd": null, "context_budget_tokens": null},
	"essential": false,
	"local_time": {"minute": 600, "day": 5},
	"timezone": "Europe/Berlin",
	"now_ns": fixtures.friday_morning,
}

# The context at an RFC 3339 instant in Berlin.
at(instant) := object.union(context, {"local_time": windows.local_time(ns, "Europe/Berlin"), "now_ns": ns}) if {
	ns := time.parse_rfc3339_ns(instant)
}

office := {"usage_windows": [{"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}]}

with_request(changes) := object.union(context, {"request": object.union(fixtures.request, changes)})

# The failures of model with changes merged into it, its usage and the context.
failing(model_changes, usage_changes, ctx) := gates.failures(
	object.union(model, model_changes),
	object.union(idle, usage_changes),
	gates.estimated_cost(object.union(model, model_changes), ctx.request),
	ctx,
)

failure(reason, detail) := [{"model": "hosted/test", "reason": reason, "detail": detail}]

test_unreported_model_is_idle if {
	idle == {"rpm": 0, "tpm": 0, "usd_today": 0, "cooling_down": false, "healthy": true}
}

test_reported_counters_override_idle_defaults if {
	gates.usage({"hosted/test": {"rpm": 3, "healthy": false}}, "hosted/test") == {
		"rpm": 3, "tpm": 0, "usd_today": 0, "cooling_down": false, "healthy": false,
	}
}

test_estimated_cost_prices_prompt_and_output_tokens if {
	# 1200 tokens at $0.01/1k plus 256 at $0.02/1k
	gates.estimated_cost(model, fixtures.request) == 0.01712
}

test_estimated_cost_without_price_is_zero if {
	gates.estimated_cost(object.remove(model, ["price"]), fixtures.request) == 0
}

test_estimated_cost_with_one_free_side_prices_the_other if {
	output_only := object.union(model, {"price": {"input_per_1k": 0, "output_per_1k": 0.02}})
	gates.estimated_cost(output_only, fixtures.request) == 0.00512
	input_only := object.union(model, {"price": {"input_per_1k": 0.01, "output_per_1k": 0}})
	gates.estimated_cost(input_only, fixtures.request) == 0.012
}

test_model_within_every_limit_passes if {
	failing({}, {}, context) == []
}

test_window_closed_outside_every_window if {
	saturday := object.union(context, {"local_time": {"minute": 600, "day": 6}, "now_ns": fixtures.saturday_morning})
	failing(office, {}, saturday) == failure("window_closed", "opens 09:00 Mon–Fri Europe/Berlin, in 1 d 23 h")
	failing(office, {}, context) == []
}

test_window_closed_says_minutes_under_an_hour if {
	failing(office, {}, at("2025-08-29T08:15:00+02:00")) == failure(
		"window_closed",
		"opens 09:00 Mon–Fri Europe/Berlin, in 45 min",
	)
}

test_window_closed_says_hours_and_minutes_under_a_day if {
	failing(office, {}, at("2025-08-29T06:47:00+02:00")) == failure(
		"window_closed",
		"opens 09:00 Mon–Fri Europe/Berlin, in 2 h 13 min",
	)
}

test_window_closed_says_days_and_hours_beyond_a_day if {
	# Friday 18:00 to Monday 09:00 is 2 d 15 h on the wall clock.
	failing(office, {}, at("2025-08-29T18:00:00+02:00")) == failure(
		"window_closed",
		"opens 09:00 Mon–Fri Europe/Berlin, in 2 d 15 h",
	)
}

test_window_closed_rounds_down_to_whole_minutes if {
	failing(office, {}, at("2025-08-29T08:13:00.001+02:00")) == failure(
		"window_closed",
		"opens 09:00 Mon–Fri Europe/Berlin, in 46 min",
	)
	failing(office, {}, at("2025-08-29T08:59:30+02:00")) == failure(
		"window_closed",
		"opens 09:00 Mon–Fri Europe/Berlin, in under 1 min",
	)
}

test_window_closed_names_the_soonest_of_several_windows if {
	shifts := {"usage_windows": [
		{"start": "20:00", "end": "23:00"},
		{"start": "13:00", "end": "14:00", "days": [1, 3, 5]},
		{"start": "09:00", "end": "12:00", "days": [6, 0]},
	]}
	failing(shifts, {}, at("2025-08-29T12:30:00+02:00")) == failure(
		"window_closed",
		"opens 13:00 Mon, Wed, Fri Europe/Berlin, in 30 min",
	)
	failing(shifts, {}, at("2025-08-29T23:30:00+02:00")) == failure(
		"window_closed",
		"opens 09:00 Sat–Sun Europe/Berlin, in 9 h 30 min",
	)
}

test_window_closed_counts_the_daylight_saving_change if {
	# Friday 28 March 2025 18:00 CET to Monday 09:00 CEST: one hour fewer than the wall clock shows.
	failing(office, {}, at("2025-03-28T18:00:00+01:00")) == failure(
		"window_closed",
		"opens 09:00 Mon–Fri Europe/Berlin, in 2 d 14 h",
	)
}

test_window_closed_when_the_time_zone_is_unknown if {
	every_day := {"usage_windows": [{"start": "00:00", "end": "00:00"}]}
	unknown := object.union(context, {"local_time": null, "timezone": "Mars/Olympus_Mons"})
	failing(every_day, {}, unknown) == failure(
		"window_closed",
		"opens 00:00 daily Mars/Olympus_Mons (unknown time zone)",
	)
}

test_window_on_no_valid_day_never_opens if {
	no_day := {"usage_windows": [{"start": "09:00", "end": "17:00", "days": []}]}
	failing(no_day, {}, context) == failure("window_closed", "opens 09:00 no day Europe/Berlin, never")
}

test_empty_usage_windows_mean_always_open if {
	failing({"usage_windows": []}, {}, object.union(context, {"local_time": null})) == []
}

test_rpm_exhausted_at_the_cap if {
	failing({}, {"rpm": 10}, context) == failure("rpm_exhausted", "10 of 10 requests in the last 60 s")
	failing({}, {"rpm": 9}, context) == []
}

test_tpm_exhausted_when_the_estimate_would_pass_the_cap if {
	failing({}, {"tpm": 8801}, context) == failure(
		"tpm_exhausted",
		"8801 used + 1200 estimated exceeds 10000 tokens in the last 60 s",
	)
	failing({}, {"tpm": 8800}, context) == []
}

test_budget_exhausted_when_spent if {
	failing({}, {"usd_today": 1}, context) == failure("budget_exhausted", "spent $1.00 of $1.00 today")
}

test_budget_exhausted_when_the_estimate_would_pass_the_cap if {
	failing({}, {"usd_today": 0.99}, context) == failure(
		"budget_exhausted",
		"spent $0.99 of $1.00 today; this request would add an estimated $0.0171",
	)
	failing({}, {"usd_today": 0.98}, context) == []
}

reserving := {"reserve_fraction": 0.05}

test_budget_reserved_below_the_reserve_fraction if {
	failing(reserving, {"usd_today": 0.96}, context) == failure(
		"budget_reserved",
		"reserved for essential rules: $0.04 of $1.00 left today (below 5%)",
	)
}

test_budget_reserved_is_open_to_essential_rules if {
	failing(reserving, {"usd_today": 0.96}, object.union(context, {"essential": true})) == []
}

test_budget_reserved_not_at_or_above_the_reserve_fraction if {
	failing(reserving, {"usd_today": 0.95}, context) == []
	failing(reserving, {"usd_today": 0.5}, context) == []
}

test_budget_reserved_names_fractional_percentages if {
	failing({"reserve_fraction": 0.125, "daily_usd_cap": 4}, {"usd_today": 3.6}, context) == failure(
		"budget_reserved",
		"reserved for essential rules: $0.40 of $4.00 left today (below 12.5%)",
	)
}

test_exhausted_budget_is_exhausted_not_reserved if {
	failing(reserving, {"usd_today": 1}, context) == failure("budget_exhausted", "spent $1.00 of $1.00 today")
	essential := object.union(context, {"essential": true})
	failing(reserving, {"usd_today": 1}, essential) == failure("budget_exhausted", "spent $1.00 of $1.00 today")
}

test_reserve_fraction_without_dollar_cap_reserves_nothing if {
	free := object.union(object.remove(model, ["daily_usd_cap"]), reserving)
	gates.failures(free, object.union(idle, {"usd_today": 1000000}), 0.01712, context) == []
}

test_zero_dollar_cap_with_a_reserve_is_exhausted if {
	failing({"reserve_fraction": 0.5, "daily_usd_cap": 0}, {}, context) == failure(
		"budget_exhausted",
		"spent $0.00 of $0.00 today",
	)
}

test_model_without_dollar_cap_is_never_blocked_by_money if {
	free := object.remove(model, ["daily_usd_cap"])
	gates.failures(free, object.union(idle, {"usd_today": 1000000}), 0.01712, context) == []
}

test_null_dollar_cap_counts_as_no_cap if {
	no_cap := object.union(model, {"daily_usd_cap": null})
	gates.failures(no_cap, object.union(idle, {"usd_today": 1000}), 0.01712, context) == []
}

test_task_denied if {
	denied := failure("task_denied", "task qa is in the model's deny_tasks")
	failing({"deny_tasks": ["secrets", "qa"]}, {}, context) == denied
	failing({"deny_tasks": ["secrets"]}, {}, context) == []
}

test_task_not_allowed if {
	failing({"allow_tasks": ["code", "review"]}, {}, context) == failure(
		"task_not_allowed",
		"task qa is not in the model's allow_tasks [code, review]",
	)
	failing({"allow_tasks": ["qa"]}, {}, context) == []
}

test_loa_exceeds_model if {
	exceeded := failure("loa_exceeds_model", "LoA 2 exceeds the model's maximum 1")
	failing({"loa_max": 1}, {}, with_request({"loa": 2})) == exceeded
	failing({"loa_max": 2}, {}, with_request({"loa": 2})) == []
}

test_context_too_small if {
	failing({"context_tokens": 1455}, {}, context) == failure(
		"context_too_small",
		"1200 input + 256 output tokens exceed the context of 1455 tokens",
	)
	failing({"context_tokens": 1456}, {}, context) == []
}

test_temperature_below_the_minimum if {
	bounds := {"temperature_bounds": {"min": 0.5, "max": 1}}
	failing(bounds, {}, context) == failure("temperature_out_of_bounds", "temperature 0.2 is below the minimum 0.5")
}

test_temperature_above_the_maximum if {
	bounds := {"temperature_bounds": {"max": 1}}
	failing(bounds, {}, with_request({"temperature": 1.5})) == failure(
		"temperature_out_of_bounds",
		"temperature 1.5 is above the maximum 1",
	)
	failing(bounds, {}, with_request({"temperature": 1})) == []
}

test_absent_temperature_skips_the_gate if {
	bounds := {"temperature_bounds": {"min": 0.5, "max": 1}}

	# object.union merges nested objects, so the request is replaced whole.
	request := object.remove(fixtures.request, ["temperature"])
	no_temperature := object.union(object.remove(context, ["request"]), {"request": request})
	failing(bounds, {}, no_temperature) == []
}

test_cost_over_route_max if {
	cheap_route := object.union(context, {"route": {"max_cost_usd": 0.01}})
	failing({}, {}, cheap_route) == failure("cost_over_route_max", "estimated $0.0171 exceeds the route maximum of $0.01")
	failing({}, {}, object.union(context, {"route": {"max_cost_usd": 0.01712}})) == []
}

test_tool_unsupported_names_the_missing_tools if {
	tools := with_request({"requires_tools": ["vision", "function_calling", "code_exec"]})
	failing({"tools": ["function_calling"]}, {}, tools) == failure(
		"tool_unsupported",
		"the model does not offer [vision, code_exec]",
	)
	failing({"tools": ["code_exec", "function_calling", "vision"]}, {}, tools) == []
}

test_model_without_tools_offers_none if {
	failing({}, {}, with_request({"requires_tools": ["vision"]})) == failure(
		"tool_unsupported",
		"the model does not offer [vision]",
	)
}

test_cooling_down if {
	failing({}, {"cooling_down": true}, context) == failure(
		"cooling_down",
		"cooling down after repeated upstream failures",
	)
}

test_unhealthy if {
	failing({}, {"healthy": false}, context) == failure("unhealthy", "marked unhealthy by the proxy's probes")
}

test_every_failing_gate_is_reported_in_a_fixed_order if {
	hostile := {
		"usage_windows": [{"start": "18:00", "end": "19:00"}],
		"deny_tasks": ["qa"],
		"allow_tasks": ["code"],
		"loa_max": 0,
		"context_tokens": 1024,
		"temperature_bounds": {"min": 0.5},
		"tools": [],
	}
	exhausted := {"rpm": 10, "tpm": 10000, "usd_today": 1, "cooling_down": true, "healthy": false}
	ctx := object.union(with_request({"requires_tools": ["vision"]}), {"route": {"max_cost_usd": 0}})
	[f.reason | some f in failing(hostile, exhausted, ctx)] == [
		"window_closed",
		"rpm_exhausted",
		"tpm_exhausted",
		"budget_exhausted",
		"cooling_down",
		"unhealthy",
		"task_denied",
		"task_not_allowed",
		"loa_exceeds_model",
		"context_too_small",
		"temperature_out_of_bounds",
		"cost_over_route_max",
		"tool_unsupported",
	]
}
