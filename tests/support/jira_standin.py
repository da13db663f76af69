"""A local stand-in for Jira Cloud's REST API v3: issues, comments, transitions, search.

Jira cannot be reached from tests, so this server answers the calls Symphony (through the
`jira` library) makes as a Jira Cloud site does: HTTP basic auth with an account e-mail and an
API token (401 otherwise), `serverInfo` saying `deploymentType: Cloud`, payloads checked the
way v3 checks them (descriptions and comments must be Atlassian Document Format; project,
issue type and priority must exist; labels have no spaces) with Jira's error shape
(`{"errorMessages": [...], "errors": {field: message}}`), transitions by id, JQL search
(`/rest/api/3/search/jql`) over the few clauses Symphony uses, and switchable faults (401, 403,
429 with `Retry-After`, 500).

Shapes follow https://developer.atlassian.com/cloud/jira/platform/rest/v3/.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.github_standin import Fault, Recorded, StandIn

WORKFLOW = {  # transition id -> (name, status it leads to, status category key)
    "11": ("To Do", "To Do", "new"),
    "21": ("In Progress", "In Progress", "indeterminate"),
    "31": ("Done", "Done", "done"),
}
ISSUE_TYPES = {"Task": "10001", "Bug": "10004", "Incident": "10008"}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def is_adf(value: Any) -> bool:
    """Whether `value` is an Atlassian Document Format document."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def adf_text(value: Any) -> str:
    """The text of an ADF document (paragraphs joined by blank lines)."""
    blocks = []
    for block in value.get("content", []):
        blocks.append("".join(node.get("text", "") for node in block.get("content", [])))
    return "\n\n".join(blocks)


@dataclass
class JiraIssue:
    """A stored issue."""

    id: str
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    status_category: str = "new"
    comments: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[str] = field(default_factory=list)


class JiraStandIn(StandIn):
    """One Jira Cloud site with one project, reachable with `email` and `token`."""

    def __init__(self, project: str = "OPS", email: str = "", token: str = "") -> None:
        self.project = project
        self.project_id = "10000"
        self.email = email or "ops-bot@example.com"
        self.token = token or "ATATT3xFfGF0standin" + "y" * 24
        self.issues: dict[str, JiraIssue] = {}
        super().__init__()

    def _error(
        self, status: int, messages: list[str], errors: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        return status, {"errorMessages": messages, "errors": errors or {}}, {}

    def _route(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return (
                401,
                {"errorMessages": ["Client must be authenticated to access this resource."]},
                {},
            )
        parts = urlsplit(request.path)
        fault = self._take_fault(parts.path)
        if fault is not None:
            return self._fault(fault)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            if path == "/rest/api/3/serverInfo":
                return 200, self._server_info(), {}
            if path == "/rest/api/3/field":
                return 200, self._fields(), {}
            if path == "/rest/api/3/issue" and request.method == "POST":
                return self._create(request.body)
            if path == "/rest/api/3/search/jql":
                return self._search(query.get("jql", [""])[0])
            found = re.fullmatch(r"/rest/api/3/issue/([A-Z][A-Z0-9]*-\d+|\d+)(/\w+)?", path)
            if found:
                issue = self._find(found.group(1))
                if issue is None:
                    return self._error(
                        404, ["Issue does not exist or you do not have permission to see it."]
                    )
                tail = found.group(2)
                if tail is None and request.method == "GET":
                    return 200, self.issue_json(issue), {}
                if tail == "/comment" and request.method == "POST":
                    return self._comment(issue, request.body)
                if tail == "/transitions" and request.method == "GET":
                    return 200, {"expand": "transitions", "transitions": self._transitions()}, {}
                if tail == "/transitions" and request.method == "POST":
                    return self._transition(issue, request.body)
        return self._error(404, ["Not found"])

    def _fault(self, fault: Fault) -> tuple[int, Any, dict[str, str]]:
        if fault.status == 429:
            return (
                429,
                {"errorMessages": ["Rate limit exceeded."]},
                {
                    "Retry-After": str(fault.retry_after or 1),
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "RateLimit-Reason": "jira-quota-tenant-based",
                },
            )
        if fault.status == 401:
            return (
                401,
                {"errorMessages": ["Client must be authenticated to access this resource."]},
                {},
            )
        if fault.status == 403:
            return self._error(
                403, ["You do not have permission to create issues in this project."]
            )
        return self._error(fault.status, ["Internal server error"])

    def _server_info(self) -> dict[str, Any]:
        return {
            "baseUrl": self.url,
            "displayUrl": self.url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100284,
            "buildDate": "2026-11-20T00:00:00.000+0000",
            "serverTime": _now(),
            "scmInfo": "0" * 40,
            "serverTitle": "Jira",
            "defaultLocale": {"locale": "en_US"},
            "serverTimeZone": "Etc/UTC",
        }

    @staticmethod
    def _fields() -> list[dict[str, Any]]:
        def system(field_id: str, name: str, kind: str) -> dict[str, Any]:
            return {
                "id": field_id,
                "key": field_id,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [field_id],
                "schema": {"type": kind, "system": field_id},
            }

        return [
            system("summary", "Summary", "string"),
            system("labels", "Labels", "array"),
            system("status", "Status", "status"),
        ]

    def _find(self, ident: str) -> JiraIssue | None:
        if ident in self.issues:
            return self.issues[ident]
        return next((i for i in self.issues.values() if i.id == ident), None)

    def issue_json(self, issue: JiraIssue) -> dict[str, Any]:
        """An issue as GET /rest/api/3/issue/{key} answers it."""
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": f"{self.url}/rest/api/3/issue/{issue.id}",
            "key": issue.key,
            "fields": {
                **issue.fields,
                "status": {
                    "self": f"{self.url}/rest/api/3/status/1",
                    "name": issue.status,
                    "id": "1",
                    "statusCategory": {"key": issue.status_category, "name": issue.status},
                },
                "comment": {
                    "comments": issue.comments,
                    "maxResults": len(issue.comments),
                    "total": len(issue.comments),
                    "startAt": 0,
                },
            },
        }

    def _create(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return self._error(400, ["Request body is missing the fields object."])
        fields = body["fields"]
        errors: dict[str, str] = {}
        project = fields.get("project") or {}
        if project.get("key") != self.project and project.get("id") != self.project_id:
            errors["project"] = "valid project is required"
        issue_type = fields.get("issuetype") or {}
        if issue_type.get("name") not in ISSUE_TYPES and issue_type.get("id") not in set(
            ISSUE_TYPES.values()
        ):
            errors["issuetype"] = "Specify a valid issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if "description" in fields and not is_adf(fields["description"]):
            errors["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or any(not isinstance(x, str) or " " in x for x in labels):
            errors["labels"] = "The label can't contain spaces."
        priority = fields.get("priority")
        if priority is not None and (priority or {}).get("name") not in PRIORITIES:
            errors["priority"] = "Specify the Priority (name) in the string format"
        if errors:
            return self._error(400, [], errors)
        number = len(self.issues) + 1
        issue_id = str(10_000 + number)
        key = f"{self.project}-{number}"
        stored = {
            "summary": summary,
            "description": fields.get("description"),
            "labels": labels,
            "issuetype": {
                "id": ISSUE_TYPES.get(issue_type.get("name", ""), "10001"),
                "name": issue_type.get("name", "Task"),
            },
            "project": {"id": self.project_id, "key": self.project, "name": "Operations"},
            "priority": {"name": priority["name"], "id": PRIORITIES[priority["name"]]}
            if priority
            else {"name": "Medium", "id": "3"},
            "created": _now(),
            "updated": _now(),
        }
        self.issues[key] = JiraIssue(issue_id, key, stored)
        return (
            201,
            {"id": issue_id, "key": key, "self": f"{self.url}/rest/api/3/issue/{issue_id}"},
            {},
        )

    def _comment(self, issue: JiraIssue, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not is_adf(body.get("body")):
            return self._error(400, [], {"comment": "Comment body is not valid!"})
        comment_id = str(20_000 + sum(len(i.comments) for i in self.issues.values()) + 1)
        author = {
            "self": f"{self.url}/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d4ef5",
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "displayName": "Symphony",
            "active": True,
        }
        comment = {
            "self": f"{self.url}/rest/api/3/issue/{issue.id}/comment/{comment_id}",
            "id": comment_id,
            "author": author,
            "updateAuthor": author,
            "body": body["body"],
            "created": _now(),
            "updated": _now(),
            "jsdPublic": True,
        }
        issue.comments.append(comment)
        return 201, comment, {}

    def _transitions(self) -> list[dict[str, Any]]:
        return [
            {
                "id": tid,
                "name": name,
                "to": {
                    "self": f"{self.url}/rest/api/3/status/{tid}",
                    "name": status,
                    "id": tid,
                    "statusCategory": {"key": category, "name": status},
                },
                "hasScreen": False,
                "isGlobal": True,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for tid, (name, status, category) in WORKFLOW.items()
        ]

    def _transition(self, issue: JiraIssue, body: Any) -> tuple[int, Any, dict[str, str]]:
        transition = (body or {}).get("transition") if isinstance(body, dict) else None
        tid = str((transition or {}).get("id", ""))
        if tid not in WORKFLOW:
            return self._error(400, ["Transition id '" + tid + "' is not valid for this issue."])
        _, issue.status, issue.status_category = WORKFLOW[tid]
        issue.transitions.append(tid)
        return 204, None, {}

    def _search(self, jql: str) -> tuple[int, Any, dict[str, str]]:
        clauses = re.findall(r'(\w+)\s*(=|!=)\s*"?([^"\s]+)"?', jql)
        found = []
        for issue in self.issues.values():
            keep = True
            for name, op, value in clauses:
                if name == "project":
                    keep &= (value == self.project) == (op == "=")
                elif name == "labels":
                    keep &= (value in issue.fields["labels"]) == (op == "=")
                elif name == "statusCategory":
                    keep &= (issue.status_category == value.lower()) == (op == "=")
            if keep:
                found.append(
                    {
                        "id": issue.id,
                        "key": issue.key,
                        "self": f"{self.url}/rest/api/3/issue/{issue.id}",
                        "fields": {"summary": issue.fields["summary"]},
                    }
                )
        return 200, {"issues": found, "isLast": True}, {}

    # -- for assertions -------------------------------------------------------------------------

    def comment_texts(self, key: str) -> list[str]:
        """Texts of an issue's comments."""
        with self._lock:
            return [adf_text(c["body"]) for c in self.issues[key].comments]
