# METADATA
# title: Decision-log masking and dropping
# description: >-
#   Shipped in every bundle with the router and named in
#   deploy/opa/config.yaml (decision_logs.mask_decision and drop_decision).
#   OPA evaluates both with each decision-log event as input, before the event
#   is written to the console (the audit trail in .run/<name>.log). `mask`
#   rewrites every string of the request, the client and the decision's reasons
#   that holds an e-mail address, a card-like number, a US SSN, a PEM block, a
#   bearer token or an API key; `drop` leaves out the reads that are not routing
#   decisions (the dashboard polls model_windows every few seconds, health reads
#   the bundle revision).
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/management-decision-logs#masking-sensitive-data
#     description: OPA's decision-log mask and drop policies
#   - ref: https://github.com/open-policy-agent/opa/blob/main/v1/plugins/logs/mask.go
#     description: how OPA applies mask operations and splits their paths
package system.log

# METADATA
# title: Mask operations for a decision-log event
# description: >-
#   input is the event ({decision_id, path, input, result, ...}). One upsert per
#   string that holds personal data or a secret, with that data replaced.
# entrypoint: true
mask contains operation if {
	some root, tree in _scanned(input)
	_suspect_somewhere(tree)
	walk(tree, [path, text])
	is_string(text)
	regex.match(_suspect, text)
	redacted := redact(text)
	redacted != text
	operation := _upsert(array.concat(root, path), redacted)
}

# METADATA
# title: Whether a decision-log event is left out
# description: >-
#   True for the dashboard's model_windows polls and for reads of OPA's own
#   bundle state; every symphony/router/decision is kept.
# entrypoint: true
default drop := false

drop if _unlogged(trim_prefix(input.path, "/"))

_unlogged("symphony/router/model_windows")

_unlogged("system/bundles")

_unlogged(path) if startswith(path, "system/bundles/")

# METADATA
# title: Text with personal data and secrets replaced
# description: >-
#   PEM blocks and keys first, so that the digits and addresses inside them are
#   replaced whole rather than piecemeal; SSNs before the longer card numbers.
redact(text) := card if {
	pem := regex.replace(text, `-----BEGIN [A-Z0-9 ]+-----[\s\S]*?-----END [A-Z0-9 ]+-----`, "[REDACTED_PEM]")
	bearer := regex.replace(pem, `(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`, "Bearer [REDACTED_SECRET]")
	key := regex.replace(bearer, `\b(?:sk-|ghp_|gho_|ghs_|ghu_|github_pat_)[A-Za-z0-9_-]{8,}`, "[REDACTED_SECRET]")
	email := regex.replace(key, `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`, "[REDACTED_EMAIL]")
	ssn := regex.replace(email, `\b\d{3}-\d{2}-\d{4}\b`, "[REDACTED_SSN]")
	card := regex.replace(ssn, `\b(?:\d[ -]?){12,18}\d\b`, "[REDACTED_NUMBER]")
}

# One cheap match that every text redact() would change also matches: the six
# replacements run only on those. Digits count only as an SSN's shape or a run of
# thirteen (what the two number patterns need at least), so the reasons' counts
# and caps ("rpm 12 of 600") do not set off all six.
_suspect := `@|\d{3}-\d{2}-\d{4}|(?:\d[ -]?){12}\d|-----BEGIN|(?i:bearer)|sk-|gh[pousr]_|github_pat_`

# Whether any string in tree may hold something redact() changes, asked of the
# tree's JSON text in one match, so the walk over every node runs only when it
# might find something (most events hold nothing to mask). Exact: JSON escapes
# none of the characters _suspect matches, so a string that matches it matches
# inside the JSON text too; a match across two strings only costs the walk.
_suspect_somewhere(tree) if regex.match(_suspect, json.marshal(tree))

# The parts of an event that carry text a client or a guard wrote (the model
# counters in input.models are numbers keyed by policy model names). Each may be
# absent: a query made before a policy is loaded has no result.
_scanned(event) := {
	["input", "request"]: object.get(event, ["input", "request"], null),
	["input", "client"]: object.get(event, ["input", "client"], null),
	["result", "reasons"]: object.get(event, ["result", "reasons"], null),
}

# OPA splits a mask path on "/" and matches each part as a URL path segment,
# without JSON-pointer escapes, so a key with other characters cannot be named:
# the nearest ancestor that can is replaced whole instead.
_upsert(path, value) := {"op": "upsert", "path": _pointer(path), "value": value} if {
	every segment in path {
		_addressable(segment)
	}
} else := {"op": "upsert", "path": _pointer(array.slice(path, 0, reach)), "value": "[REDACTED]"} if {
	reach := min({index | some index, segment in path; not _addressable(segment)})
}

_addressable(segment) if is_number(segment)

_addressable(segment) if {
	is_string(segment)
	regex.match(`^[A-Za-z0-9_.~-]+$`, segment)
}

_pointer(path) := concat("/", array.concat([""], [_segment(part) | some part in path]))

_segment(part) := format_int(part, 10) if is_number(part)

_segment(part) := part if is_string(part)
