"""GitHub issues and run reports through PyGithub (GitHub.com, Enterprise, or a test server).

PyGithub's own retries and pacing are switched off: a rate-limited call must not hold the
worker's thread for minutes. Failures become RetryLater (with the wait GitHub asked for:
`Retry-After`, else `X-RateLimit-Reset` when `X-RateLimit-Remaining` is 0) or GiveUp. The
token never appears in an error text.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException

from app.core.incidents import Alert, GiveUp, RetryLater, fingerprint_label
from app.settings import GitHubSettings

T = TypeVar("T")


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def rate_limit_wait_s(headers: Mapping[str, str] | None, now: float) -> float | None:
    """Seconds GitHub asks us to wait, from Retry-After or an exhausted X-RateLimit-Reset."""
    retry_after = _header(headers, "Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    if _header(headers, "X-RateLimit-Remaining") == "0":
        reset = _header(headers, "X-RateLimit-Reset")
        if reset and reset.strip().isdigit():
            return max(float(reset) - now, 0.0) + 1.0
    return None


def github_error(exc: Exception, now: float | None = None) -> Exception:
    """RetryLater or GiveUp for a failed PyGithub call."""
    if isinstance(exc, GithubException):
        status = exc.status
        message = ""
        if isinstance(exc.data, dict):
            message = str(exc.data.get("message", ""))[:200]
        wait = rate_limit_wait_s(exc.headers, time.time() if now is None else now)
        if status in (403, 429) and (wait is not None or "rate limit" in message.lower()):
            return RetryLater(f"GitHub rate limit ({status}): {message}", wait)
        if status >= 500:
            return RetryLater(f"GitHub answered {status}: {message}")
        if status == 401:
            return GiveUp(f"GitHub refused the credentials (401): {message}")
        return GiveUp(f"GitHub answered {status}: {message}")
    if isinstance(exc, requests.RequestException):
        return RetryLater(f"GitHub unreachable: {type(exc).__name__}")
    return exc


class GitHubTracker:
    """Incidents as GitHub issues (labels `incident`, the severity and the alert's own)."""

    def __init__(self, settings: GitHubSettings, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._client = Github(
            auth=Auth.Token(settings.token or ""),
            base_url=settings.base_url.rstrip("/"),
            timeout=max(int(timeout_s), 1),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )
        self._repo = self._client.get_repo(f"{settings.owner}/{settings.repo}")

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except (GithubException, requests.RequestException) as exc:
            raise github_error(exc) from None

    def find(self, fingerprint: str) -> tuple[str, str] | None:
        """An open issue already labelled with this alert's fingerprint."""

        def look() -> tuple[str, str] | None:
            for issue in self._repo.get_issues(
                state="open", labels=[fingerprint_label(fingerprint)]
            ):
                return str(issue.number), issue.html_url
            return None

        return self._call(look)

    def open(self, alert: Alert, title: str, body: str) -> tuple[str, str]:
        """Create the issue; (number, html_url)."""
        labels = ["incident", alert.severity, fingerprint_label(alert.fingerprint)]
        issue = self._call(lambda: self._repo.create_issue(title=title, body=body, labels=labels))
        return str(issue.number), issue.html_url

    def comment(self, ticket: str, text: str) -> None:
        """Comment on issue `ticket`."""
        self._call(lambda: self._repo.get_issue(int(ticket)).create_comment(text))

    def resolve(self, ticket: str, text: str) -> None:
        """Comment, then close as completed."""
        issue = self._repo.get_issue(int(ticket))
        self._call(lambda: issue.create_comment(text))
        self._call(lambda: issue.edit(state="closed", state_reason="completed"))

    def put_file(self, path: str, content: str, message: str) -> str:
        """Create `path` with `content`, or append to it when it exists; the commit's sha."""

        def put() -> str:
            try:
                created: dict[str, Any] = self._repo.create_file(path, message, content)
                return str(created["commit"].sha)
            except GithubException as exc:
                if exc.status != 422:
                    raise
            existing = self._repo.get_contents(path)
            if isinstance(existing, list):
                raise GiveUp(f"{path} is a directory")
            old = base64.b64decode(existing.content or "").decode("utf-8")
            if content in old:
                return str(existing.sha)  # a retried batch that already landed
            updated: dict[str, Any] = self._repo.update_file(
                path, message, old + content, existing.sha
            )
            return str(updated["commit"].sha)

        return self._call(put)
