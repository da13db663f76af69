# METADATA
# title: Tests for system.log
# description: >-
#   Which strings of a decision-log event are masked and how, what is left
#   alone, and which events are dropped.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/management-decision-logs#masking-sensitive-data
#     description: OPA's decision-log mask and drop policies
package system.log_test

import data.system.log

_request := {
	"task": "qa",
	"loa": 1,
	"risk": "low",
	"requires_tools": ["function_calling"],
	"est_tokens": 1200,
	"max_output_tokens": 256,
	"model": "auto",
}

_decision := {
	"allow": true,
	"model": "local/smollm2",
	"rule": "qa-default",
	"reasons": [{"model": "local/smollm2", "reason": "chosen", "detail": "first eligible candidate of rule qa-default"}],
	"estimated_cost_usd": {"local/smollm2": 0},
	"revision": "r12-f73094443fd0fe0b",
}

_event(request, client, result) := {
	"decision_id": "4ca636c1-55e4-417a-b1d8-4aceb67960d1",
	"path": "symphony/router/decision",
	"input": {
		"request": request,
		"client": client,
		"models": {"local/smollm2": {"rpm": 3, "tpm": 9000, "usd_today": 0, "cooling_down": false, "healthy": true}},
		"now_ns": 1764000000000000000,
		"kill_switch": false,
	},
	"result": result,
}

_client := {"name": "ci-bot", "roles": ["router"], "team": "platform"}

test_an_ordinary_decision_is_not_masked if {
	log.mask == set() with input as _event(_request, _client, _decision)
}

test_personal_data_in_the_request_is_upserted_redacted if {
	request := object.union(_request, {
		"model": "for bob@example.com, card 4111 1111 1111 1111",
		"requires_tools": ["function_calling", "ssn 123-45-6789"],
	})
	log.mask == {
		{
			"op": "upsert", "path": "/input/request/model",
			"value": "for [REDACTED_EMAIL], card [REDACTED_NUMBER]",
		},
		{"op": "upsert", "path": "/input/request/requires_tools/1", "value": "ssn [REDACTED_SSN]"},
	} with input as _event(request, _client, _decision)
}

test_secrets_in_the_client_are_upserted_redacted if {
	client := {
		"name": "sk-live0123456789abcdef",
		"roles": ["router", "ghp_abcdefghijklmnop0123"],
		"team": "ops@example.org",
	}
	log.mask == {
		{"op": "upsert", "path": "/input/client/name", "value": "[REDACTED_SECRET]"},
		{"op": "upsert", "path": "/input/client/roles/1", "value": "[REDACTED_SECRET]"},
		{"op": "upsert", "path": "/input/client/team", "value": "[REDACTED_EMAIL]"},
	} with input as _event(_request, client, _decision)
}

test_a_guard_detail_that_echoes_a_secret_is_upserted_redacted if {
	reasons := [
		{"model": null, "reason": "pii", "detail": "prompt carries Bearer abc.def-ghi_jkl"},
		{"model": "local/smollm2", "reason": "chosen", "detail": "rule qa-default"},
	]
	log.mask == {{
		"op": "upsert", "path": "/result/reasons/0/detail",
		"value": "prompt carries Bearer [REDACTED_SECRET]",
	}} with input as _event(_request, _client, object.union(_decision, {"reasons": reasons}))
}

test_a_key_opa_cannot_address_masks_its_nearest_ancestor if {
	client := object.union(_client, {"labels": {"owner/mail": "eve@example.com"}})
	masked := {{"op": "upsert", "path": "/input/client/labels", "value": "[REDACTED]"}}
	log.mask == masked with input as _event(_request, client, _decision)
}

test_an_event_without_client_or_result_is_masked if {
	event := {"path": "symphony/router/decision", "input": {"request": object.union(_request, {"model": "a@b.io"})}}
	log.mask == {{"op": "upsert", "path": "/input/request/model", "value": "[REDACTED_EMAIL]"}} with input as event
}

test_counters_and_other_fields_are_not_scanned if {
	extra := {"input": {"models": {"a@b.io": {"rpm": 1}}}, "labels": {"x": "c@d.io"}}
	event := object.union(_event(_request, _client, _decision), extra)
	log.mask == set() with input as event
}

_samples := {
	"mail alice.smith+x@mail.example.co.uk now": "mail [REDACTED_EMAIL] now",
	"cards 4111111111111111 and 5500-0000-0000-0004": "cards [REDACTED_NUMBER] and [REDACTED_NUMBER]",
	"digits 1-2-3-4-5-6-7-8-9-0-1-2-3 apart": "digits [REDACTED_NUMBER] apart",
	"ssn 078-05-1120.": "ssn [REDACTED_SSN].",
	"authorization: bearer eyJhbGciOiJIUzI1NiJ9.x": "authorization: Bearer [REDACTED_SECRET]",
	"keys sk-proj-AbC123xyz_987 gho_16charactersXYZ": "keys [REDACTED_SECRET] [REDACTED_SECRET]",
	"pat github_pat_11ABCDEFG0": "pat [REDACTED_SECRET]",
	# JSON escapes <, > and & (the prefilter reads the JSON text): what it matches stays whole.
	"<b>x@y.io</b> & 4111111111111111": "<b>[REDACTED_EMAIL]</b> & [REDACTED_NUMBER]",
	"a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE 4111111111111111\n-----END RSA PRIVATE KEY-----\nb": "a\n[REDACTED_PEM]\nb",
}

test_redact_replaces_each_kind_of_data if {
	{text: log.redact(text) | some text, _ in _samples} == _samples
}

# mask only redacts what its cheap prefilter matches: every sample must pass it.
test_every_kind_of_data_is_masked_in_an_event if {
	every text, redacted in _samples {
		request := object.union(_request, {"model": text})
		masked := {{"op": "upsert", "path": "/input/request/model", "value": redacted}}
		log.mask == masked with input as _event(request, _client, _decision)
	}
}

test_redact_leaves_short_numbers_and_plain_words if {
	text := "task qa, loa 2, 12 models, 120000 tokens, revision r12-f73094443fd0fe0b, risk-free, skills"
	log.redact(text) == text
}

test_model_windows_polls_are_dropped if {
	log.drop with input as {"path": "symphony/router/model_windows", "input": {"now_ns": 1}}
	log.drop with input as {"path": "/symphony/router/model_windows"}
}

test_bundle_state_reads_are_dropped if {
	log.drop with input as {"path": "system/bundles"}
	log.drop with input as {"path": "system/bundles/symphony/manifest/revision"}
}

test_routing_decisions_are_kept if {
	not log.drop with input as _event(_request, _client, _decision)
	not log.drop with input as {"path": "/symphony/router/decision"}
	not log.drop with input as {"path": "symphony/router/explain"}
}
