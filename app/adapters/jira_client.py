"""Jira Cloud issues through the `jira` library, REST API v3 (descriptions and comments in
Atlassian Document Format).

The library's own retries are off (`max_retries=0`): a 429 must not sleep in the worker's
thread. Failures become RetryLater (with Jira's `Retry-After`) or GiveUp; the API token never
appears in an error text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import requests
from jira import JIRA, JIRAError

from app.core.incidents import Alert, GiveUp, RetryLater, fingerprint_label
from app.settings import IncidentSettings, JiraSettings

T = TypeVar("T")


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document, one paragraph per block."""
    paragraphs = [block for block in text.split("\n\n") if block.strip()] or [" "]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": block}]}
            for block in paragraphs
        ],
    }


def jira_error(exc: Exception) -> Exception:
    """RetryLater or GiveUp for a failed jira call."""
    if isinstance(exc, JIRAError):
        status = exc.status_code
        headers = exc.response.headers if exc.response is not None else {}
        if status == 429:
            raw = headers.get("Retry-After", "")
            wait = float(raw) if raw.strip().isdigit() else None
            return RetryLater("Jira rate limit (429)", wait)
        if status is not None and status >= 500:
            return RetryLater(f"Jira answered {status}")
        if status == 401:
            return GiveUp("Jira refused the credentials (401)")
        detail = (exc.text or "")[:200]
        return GiveUp(f"Jira answered {status}: {detail}")
    if isinstance(exc, requests.RequestException):
        return RetryLater(f"Jira unreachable: {type(exc).__name__}")
    return exc


class JiraTracker:
    """Incidents as Jira issues: project, issue type and priority from settings."""

    def __init__(
        self, settings: JiraSettings, incidents: IncidentSettings, timeout_s: float = 10.0
    ) -> None:
        self._settings = settings
        self._incidents = incidents
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._client: JIRA | None = None

    def _jira(self) -> JIRA:
        with self._lock:
            if self._client is None:
                self._client = JIRA(
                    server=(self._settings.base_url or "").rstrip("/"),
                    basic_auth=(self._settings.email or "", self._settings.api_token or ""),
                    options={"rest_api_version": "3"},
                    max_retries=0,
                    timeout=self._timeout_s,
                )
            return self._client

    def _call(self, action: Callable[[JIRA], T]) -> T:
        try:
            return action(self._jira())
        except (JIRAError, requests.RequestException) as exc:
            raise jira_error(exc) from None

    def _url(self, key: str) -> str:
        return f"{(self._settings.base_url or '').rstrip('/')}/browse/{key}"

    def find(self, fingerprint: str) -> tuple[str, str] | None:
        """An unresolved issue of the project labelled with this alert's fingerprint."""
        jql = (
            f'project = "{self._settings.project}" AND labels = "{fingerprint_label(fingerprint)}"'
            " AND statusCategory != Done"
        )

        def look(jira: JIRA) -> tuple[str, str] | None:
            found = jira.enhanced_search_issues(jql, maxResults=1, fields=["summary"])
            for issue in found or []:
                return str(issue.key), self._url(str(issue.key))
            return None

        return self._call(look)

    def open(self, alert: Alert, title: str, body: str) -> tuple[str, str]:
        """Create the issue; (key, browse URL)."""
        fields: dict[str, Any] = {
            "project": {"key": self._settings.project},
            "summary": title,
            "description": adf(body),
            "issuetype": {"name": self._incidents.jira_issue_type},
            "labels": ["incident", alert.severity, fingerprint_label(alert.fingerprint)],
        }
        priority = self._incidents.jira_priority(alert.severity)
        if priority:
            fields["priority"] = {"name": priority}
        issue = self._call(lambda jira: jira.create_issue(fields=fields, prefetch=False))
        return str(issue.key), self._url(str(issue.key))

    def comment(self, ticket: str, text: str) -> None:
        """Comment on issue `ticket`."""
        self._call(lambda jira: jira.add_comment(ticket, cast(str, adf(text))))

    def resolve(self, ticket: str, text: str) -> None:
        """Comment, then move the issue through the configured done transition (by name)."""
        self.comment(ticket, text)
        name = self._incidents.jira_done_transition

        def transition(jira: JIRA) -> None:
            ids = [t["id"] for t in jira.transitions(ticket) if t["name"].lower() == name.lower()]
            if not ids:
                raise GiveUp(f"Jira issue {ticket} has no transition named {name!r}")
            jira.transition_issue(ticket, ids[0])

        self._call(transition)
