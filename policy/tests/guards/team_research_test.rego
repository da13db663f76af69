# METADATA
# title: Tests for the team research example guard
# description: >-
#   The guard reads input.client.team: research keys are gated off hosted
#   models, other teams and anonymous inputs are not.
package guard_tests.team_research_test

import data.symphony.fixtures
import data.symphony.router

research := {"name": "lab", "roles": ["client"], "team": "research"}

test_research_keys_use_local_models_only if {
	request := object.union(fixtures.input_for({"task": "qa"}), {"client": research})
	decision := router.decision with input as request with data.symphony.policy as fixtures.policy
	decision.model == "local/smollm2"
	decision.eligible == ["local/smollm2"]
	some reason in decision.reasons
	reason == {
		"model": "hosted/gemini-1.5-pro",
		"reason": "team_local_only",
		"detail": "team research may use local models only",
	}
}

test_other_teams_are_untouched if {
	other := object.union(research, {"team": "platform"})
	request := object.union(fixtures.input_for({"task": "qa"}), {"client": other})
	decision := router.decision with input as request with data.symphony.policy as fixtures.policy
	every reason in decision.reasons {
		reason.reason != "team_local_only"
	}
}
