# METADATA
# title: OPA REST API lock-down
# description: >-
#   Loaded with `opa run --authorization=basic`: the sidecar answers
#   queries and reads (decisions, data.system.bundles, health, metrics) and
#   refuses every write (PUT, PATCH, DELETE of data and policies). Policy
#   changes only arrive as bundles from Symphony, where they are validated,
#   compiled, versioned and attributed.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/security#authentication-and-authorization
#     description: OPA's system.authz API authorization
package system.authz

# Queries evaluate policy and never write: POST to the data API, the default
# decision at /, ad-hoc queries and partial evaluation.
_query_roots := {"data", "query", "compile"}

# METADATA
# title: Whether OPA serves this API call
# description: input is {method, path, headers, ...} as OPA's basic authorization gives it.
# entrypoint: true
default allow := false

# Reads: health, metrics, status, data (decisions, bundle manifests), policies.
allow if input.method == "GET"

allow if {
	input.method == "POST"
	input.path[0] == "v1"
	input.path[1] in _query_roots
}

allow if {
	input.method == "POST"
	input.path == [""]
}
