# METADATA
# title: Example guard - team research stays on local models
# description: >-
#   The caller's API key travels to the policy as input.client (name, roles,
#   team). Keys of team research may use local models only; every hosted model
#   is gated with its own reason. Requests without a client are untouched.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-language#incremental-definitions
#     description: deny is a multi-value rule other packages may extend
package symphony.guards.team_research

deny contains {
	"model": model.name,
	"reason": "team_local_only",
	"detail": sprintf("team %s may use local models only", [input.client.team]),
} if {
	input.client.team == "research"
	some model in data.symphony.policy.models
	model.class == "hosted"
}
