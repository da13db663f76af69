# METADATA
# title: Test guard for the extension point
# description: >-
#   An example guard as a governance team would write it. It only fires for
#   the test tasks pii_test (gates one model) and pii_test_block (denies the
#   request), so every other test runs as if no guard were installed.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-language#incremental-definitions
#     description: deny is a multi-value rule other packages may extend
package symphony.guards.test_pii

deny contains {
	"model": "hosted/gemini-1.5-pro",
	"reason": "pii_detected",
	"detail": "personal data may not leave for hosted/gemini-1.5-pro",
} if {
	input.request.task == "pii_test"
}

deny contains {"reason": "pii_blocked", "detail": "requests marked pii_test_block are refused"} if {
	input.request.task == "pii_test_block"
}
