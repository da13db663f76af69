# METADATA
# title: OPA REST API lock-down for sidecars started with --authorization=basic
# description: >-
#   Travels in every bundle for sidecars still started the way earlier
#   releases did (`opa run --authorization=basic`): the bundle's root is the
#   whole tree, so its activation erases the policies such a sidecar loaded
#   from the command line, and without this one OPA would answer every call
#   500 until the sidecar is restarted, which a rolling upgrade that reaches
#   the proxy first must not cause. Sidecars started by deploy/opa/start.sh
#   today do not ask OPA to evaluate it: the bundle owning every path already
#   refuses every write, and OPA compiles this policy afresh on every request.
#   For those that do, it answers queries and reads and refuses every write.
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
