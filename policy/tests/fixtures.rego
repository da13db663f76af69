# METADATA
# title: Symphony test fixtures
# description: >-
#   Shared inputs for the policy tests: a copy of policy/examples/default.json
#   and a request builder. Imported by the *_test packages only.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-testing
#     description: OPA policy testing
package symphony.fixtures

# A copy of policy/examples/default.json: one free local model, two hosted ones.
policy := {
	"version": "2026.11.1",
	"description": "Example policy: one free local model, two hosted models behind the gateway.",
	"timezone": "Europe/Berlin",
	"kill_switch": {
		"loa_at_or_above": 2,
		"risks": [
			"high",
		],
	},
	"cooldown": {
		"failures": 3,
		"seconds": 60,
	},
	"deferred": {"release_share": 0.5},
	"models": [
		{
			"name": "hosted/gemini-1.5-pro",
			"provider": "gemini",
			"class": "hosted",
			"upstream_model": "gemini-1.5-pro",
			"context_tokens": 128000,
			"rpm_cap": 30,
			"tpm_cap": 300000,
			"daily_usd_cap": 5.0,
			"budget_alerts": {"warn_at": 0.8, "critical_at": 0.95},
			"price": {
				"input_per_1k": 0.00125,
				"output_per_1k": 0.005,
			},
			"tools": [
				"function_calling",
				"vision",
			],
			"deny_tasks": [
				"secrets",
			],
			"loa_max": 2,
			"temperature_bounds": {
				"min": 0.0,
				"max": 1.0,
			},
		},
		{
			"name": "hosted/grok-code",
			"provider": "xai",
			"class": "hosted",
			"upstream_model": "grok-code-fast-1",
			"context_tokens": 256000,
			"rpm_cap": 20,
			"tpm_cap": 200000,
			"daily_usd_cap": 3.0,
			"price": {
				"input_per_1k": 0.0002,
				"output_per_1k": 0.0015,
			},
			"tools": [
				"function_calling",
			],
			"usage_windows": [
				{
					"start": "08:00",
					"end": "20:00",
					"days": [
						1,
						2,
						3,
						4,
						5,
					],
				},
			],
			"allow_tasks": [
				"code",
				"review",
			],
			"loa_max": 3,
		},
		{
			"name": "local/smollm2",
			"provider": "llama.cpp",
			"class": "local",
			"upstream_model": "smollm2",
			"context_tokens": 8192,
			"rpm_cap": 120,
			"tpm_cap": 400000,
			"price": {
				"input_per_1k": 0,
				"output_per_1k": 0,
			},
			"loa_max": 3,
			"temperature_bounds": {
				"min": 0.0,
				"max": 2.0,
			},
			"preamble": "You are a concise assistant.",
		},
	],
	"rules": [
		{
			"id": "secrets-local-only",
			"description": "Anything touching secrets stays on the local model.",
			"match": {
				"task": "secrets",
			},
			"route": {
				"prefer": [
					"local/smollm2",
				],
				"stream": false,
			},
		},
		{
			"id": "code-with-tools",
			"match": {
				"task": "code",
				"requires_tools": [
					"function_calling",
				],
			},
			"route": {
				"prefer": [
					"hosted/grok-code",
				],
				"fallback": [
					"hosted/gemini-1.5-pro",
				],
				"max_cost_usd": 1.0,
				"stream": true,
				"context_budget_tokens": 64000,
			},
		},
		{
			"id": "code-default",
			"match": {
				"task": "code",
				"loa": 2,
			},
			"route": {
				"prefer": [
					"hosted/grok-code",
					"hosted/gemini-1.5-pro",
				],
				"fallback": [
					"local/smollm2",
				],
				"max_cost_usd": 0.5,
				"stream": true,
				"context_budget_tokens": 32000,
			},
		},
		{
			"id": "qa-default",
			"match": {
				"task": "qa",
				"loa": 2,
			},
			"route": {
				"prefer": [
					"hosted/gemini-1.5-pro",
				],
				"fallback": [
					"local/smollm2",
				],
				"max_cost_usd": 0.5,
				"stream": true,
				"context_budget_tokens": 8000,
			},
		},
		{
			"id": "summarize-cheap",
			"match": {
				"task": "summarize",
			},
			"route": {
				"prefer": [
					"local/smollm2",
				],
				"fallback": [
					"hosted/gemini-1.5-pro",
				],
				"stream": true,
			},
		},
		{
			"id": "high-risk-review",
			"essential": true,
			"match": {
				"risk": "high",
			},
			"route": {
				"prefer": [
					"hosted/gemini-1.5-pro",
				],
				"max_cost_usd": 2.0,
				"stream": false,
			},
		},
		{
			"id": "catch-all-low-autonomy",
			"match": {
				"loa": 1,
			},
			"route": {
				"stream": true,
			},
		},
	],
}

# Friday 2025-08-29, 10:00 in Europe/Berlin: every usage window of the policy is open.
friday_morning := time.parse_rfc3339_ns("2025-08-29T10:00:00+02:00")

# Saturday 2025-08-30, 10:00 in Europe/Berlin: hosted/grok-code's window is closed.
saturday_morning := time.parse_rfc3339_ns("2025-08-30T10:00:00+02:00")

request := {
	"task": "qa",
	"loa": 1,
	"risk": "low",
	"requires_tools": [],
	"est_tokens": 1200,
	"max_output_tokens": 256,
	"temperature": 0.2,
	"model": "auto",
	"stream": true,
}

# METADATA
# title: Input builder
# description: The input for request with changes merged in, idle models, Friday morning, kill switch off.
input_for(changes) := {
	"request": object.union(request, changes),
	"models": {},
	"now_ns": friday_morning,
	"kill_switch": false,
}

# METADATA
# title: Policy builder
# description: The example policy with changes merged in.
policy_with(changes) := object.union(policy, changes)

# METADATA
# title: Request-level denial
# description: The whole decision for a denial decided before any model was considered.
refused(code, detail) := {
	"allow": false,
	"model": null,
	"rule": null,
	"denial": code,
	"denial_kind": "governance",
	"route": null,
	"candidates": [],
	"eligible": [],
	"reasons": [{"model": null, "reason": code, "detail": detail}],
	"estimated_cost_usd": {},
	"revision": null,
}

# METADATA
# title: Chosen reason
# description: The reason entry of the chosen model.
chosen(model, rule_id) := {
	"model": model,
	"reason": "chosen",
	"detail": sprintf("first eligible candidate of rule %s", [rule_id]),
}
