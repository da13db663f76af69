# METADATA
# title: Tests for system.authz
# description: Reads and queries pass; every write is refused.
package system.authz_test

import data.system.authz

test_reads_are_allowed if {
	every path in [["health"], ["metrics"], ["v1", "data", "system", "bundles"], ["v1", "policies"]] {
		authz.allow with input as {"method": "GET", "path": path}
	}
}

test_queries_are_allowed if {
	every path in [["v1", "data", "symphony", "router", "decision"], ["v1", "query"], ["v1", "compile"], [""]] {
		authz.allow with input as {"method": "POST", "path": path}
	}
}

test_writes_are_refused if {
	every method in ["PUT", "PATCH", "DELETE"] {
		every path in [["v1", "data", "symphony", "policy"], ["v1", "policies", "router"], ["v1", "data"]] {
			not authz.allow with input as {"method": method, "path": path}
		}
	}
}

test_posts_outside_the_query_apis_are_refused if {
	not authz.allow with input as {"method": "POST", "path": ["v1", "policies", "x"]}
}
