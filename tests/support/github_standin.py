"""A local stand-in for GitHub's REST API v3: issues, comments, issue state, contents.

GitHub cannot be reached from tests, so this server answers the calls Symphony makes the way
api.github.com does: `Authorization: token <t>` (or `Bearer`) checked (401 `Bad credentials`
otherwise), payloads checked (422 `Validation Failed` / `Invalid request` with GitHub's
wording), realistic bodies (enough for PyGithub's Issue, IssueComment and ContentFile), the
`X-RateLimit-*` headers on every answer, and switchable faults: 401, 403 with an exhausted
primary rate limit (`X-RateLimit-Remaining: 0`, `X-RateLimit-Reset`), 429 secondary rate limit
with `Retry-After`, and 500. Every request is recorded (method, path, headers, body).

Shapes follow https://docs.github.com/en/rest/issues and /rest/repos/contents.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

DOCS = "https://docs.github.com/rest"
TOKEN_HEADER = re.compile(r"^(?:token|Bearer) (\S+)$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    """An error the next `times` matching requests get."""

    status: int
    times: int
    path_contains: str = ""
    retry_after: int | None = None
    reset_in_s: int | None = None


@dataclass
class Recorded:
    """One request as the stand-in saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class JsonServer(ThreadingHTTPServer):
    """A threaded HTTP server that hands each request to `route` and records it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, route: Callable[[Recorded], tuple[int, Any, dict[str, str]]]) -> None:
        self.route = route
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: JsonServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are what tests read."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = {"__unparsable__": raw.decode("utf-8", "replace")}
        recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
        with self.server.lock:
            self.server.requests.append(recorded)
        status, answer, headers = self.server.route(recorded)
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if answer is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class StandIn(abc.ABC):
    """Start/stop and faults, shared by the GitHub and Jira stand-ins."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._server = JsonServer(self._route)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far."""
        with self._server.lock:
            return list(self._server.requests)

    def fail(
        self,
        status: int,
        times: int = 1,
        path_contains: str = "",
        retry_after: int | None = None,
        reset_in_s: int | None = None,
    ) -> None:
        """Answer `status` to the next `times` requests whose path contains `path_contains`."""
        with self._lock:
            self._faults.append(Fault(status, times, path_contains, retry_after, reset_in_s))

    def clear_faults(self) -> None:
        """Answer normally again."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @abc.abstractmethod
    def _route(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) of the service's answer to `request`."""


@dataclass
class Issue:
    """A stored issue."""

    number: int
    title: str
    body: str
    labels: list[str]
    state: str = "open"
    state_reason: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    closed_at: str | None = None


class GitHubStandIn(StandIn):
    """One repository `owner/repo`, reachable with `token`."""

    def __init__(self, owner: str = "acme", repo: str = "ops", token: str = "") -> None:
        self.owner = owner
        self.repo = repo
        self.token = token or "ghp_standin" + "x" * 30
        self.issues: dict[int, Issue] = {}
        self.files: dict[str, tuple[str, str]] = {}  # path -> (text, blob sha)
        self.commits = 0
        self._ids = 1000
        super().__init__()

    # -- the wire shapes ------------------------------------------------------------------------

    @property
    def api(self) -> str:
        """This repository's API URL."""
        return f"{self.url}/repos/{self.owner}/{self.repo}"

    def _user(self) -> dict[str, Any]:
        return {
            "login": "symphony-bot",
            "id": 4242,
            "node_id": "MDQ6VXNlcjQyNDI=",
            "type": "Bot",
            "site_admin": False,
            "url": f"{self.url}/users/symphony-bot",
            "html_url": "https://github.com/symphony-bot",
        }

    def _label(self, name: str) -> dict[str, Any]:
        digest = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
        return {
            "id": digest,
            "node_id": f"LA_{digest}",
            "url": f"{self.api}/labels/{name}",
            "name": name,
            "color": "d73a4a",
            "default": False,
            "description": None,
        }

    def issue_json(self, issue: Issue) -> dict[str, Any]:
        """An issue as GET /repos/{owner}/{repo}/issues/{number} answers it."""
        url = f"{self.api}/issues/{issue.number}"
        return {
            "id": 5000 + issue.number,
            "node_id": f"I_kwDO{issue.number:06d}",
            "url": url,
            "repository_url": self.api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"https://github.com/{self.owner}/{self.repo}/issues/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self._user(),
            "labels": [self._label(name) for name in issue.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(issue.comments),
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "closed_by": self._user() if issue.state == "closed" else None,
            "author_association": "OWNER",
        }

    def _rate_headers(self, remaining: int = 4999, reset_in_s: int = 3600) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time()) + reset_in_s),
            "X-RateLimit-Used": str(5000 - remaining),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": f"STANDIN:{self._ids}",
        }

    @staticmethod
    def _invalid(message: str) -> tuple[int, Any, dict[str, str]]:
        return 422, {"message": message, "documentation_url": DOCS, "status": "422"}, {}

    # -- routing --------------------------------------------------------------------------------

    def _route(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        status, body, headers = self._answer(request)
        return status, body, {**self._rate_headers(), **headers}

    def _answer(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        given = TOKEN_HEADER.match(request.headers.get("Authorization", ""))
        if given is None or given.group(1) != self.token:
            return (
                401,
                {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
                {},
            )
        parts = urlsplit(request.path)
        fault = self._take_fault(parts.path)
        if fault is not None:
            return self._fault(fault)
        prefix = f"/repos/{self.owner}/{self.repo}"
        if not parts.path.startswith(prefix):
            return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}
        rest = parts.path[len(prefix) :]
        query = parse_qs(parts.query)
        with self._lock:
            if rest == "/issues" and request.method == "POST":
                return self._create_issue(request.body)
            if rest == "/issues" and request.method == "GET":
                return self._list_issues(query)
            found = re.fullmatch(r"/issues/(\d+)(/comments)?", rest)
            if found:
                issue = self.issues.get(int(found.group(1)))
                if issue is None:
                    return 404, {"message": "Not Found", "documentation_url": DOCS}, {}
                if found.group(2) and request.method == "POST":
                    return self._comment(issue, request.body)
                if found.group(2) and request.method == "GET":
                    return 200, issue.comments, {}
                if request.method == "PATCH":
                    return self._edit(issue, request.body)
                if request.method == "GET":
                    return 200, self.issue_json(issue), {}
            if rest.startswith("/contents/"):
                path = unquote(rest[len("/contents/") :])
                if request.method == "GET":
                    return self._get_file(path)
                if request.method == "PUT":
                    return self._put_file(path, request.body)
        return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}

    def _fault(self, fault: Fault) -> tuple[int, Any, dict[str, str]]:
        if fault.status == 401:
            return (
                401,
                {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
                {},
            )
        if fault.status == 403:
            reset = fault.reset_in_s if fault.reset_in_s is not None else 60
            body = {
                "message": "API rate limit exceeded for user ID 4242. If you reach out to GitHub"
                " Support for help, please include the request ID STANDIN.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                "status": "403",
            }
            return 403, body, self._rate_headers(remaining=0, reset_in_s=reset)
        if fault.status == 429:
            body = {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes"
                " before you try again.",
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                "status": "429",
            }
            return 429, body, {"Retry-After": str(fault.retry_after or 1)}
        return fault.status, {"message": "Server Error", "status": str(fault.status)}, {}

    def _create_issue(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("title"), str | int):
            return self._invalid('Invalid request.\n\n"title" wasn\'t supplied.')
        labels = body.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return self._invalid("Invalid request.\n\nFor 'items', {} is not a string.")
        if not isinstance(body.get("body", ""), str | None):
            return self._invalid("Invalid request.\n\nFor 'properties/body', is not a string.")
        unknown = set(body) - {"title", "body", "labels", "assignees", "milestone", "type"}
        if unknown:
            return self._invalid(
                f"Invalid request.\n\n{sorted(unknown)[0]} is not a permitted key."
            )
        number = len(self.issues) + 1
        issue = Issue(number, str(body["title"]), body.get("body") or "", list(labels))
        self.issues[number] = issue
        return 201, self.issue_json(issue), {"Location": f"{self.api}/issues/{number}"}

    def _list_issues(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", ["open"])[0]
        wanted = [x for x in query.get("labels", [""])[0].split(",") if x]
        found = [
            self.issue_json(issue)
            for issue in sorted(self.issues.values(), key=lambda i: -i.number)
            if (state == "all" or issue.state == state) and all(x in issue.labels for x in wanted)
        ]
        return 200, found, {}

    def _comment(self, issue: Issue, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            return self._invalid('Invalid request.\n\n"body" wasn\'t supplied.')
        self._ids += 1
        comment = {
            "id": self._ids,
            "node_id": f"IC_{self._ids}",
            "url": f"{self.api}/issues/comments/{self._ids}",
            "html_url": f"https://github.com/{self.owner}/{self.repo}/issues/{issue.number}"
            f"#issuecomment-{self._ids}",
            "issue_url": f"{self.api}/issues/{issue.number}",
            "body": body["body"],
            "user": self._user(),
            "created_at": _now(),
            "updated_at": _now(),
            "author_association": "OWNER",
        }
        issue.comments.append(comment)
        issue.updated_at = _now()
        return 201, comment, {}

    def _edit(self, issue: Issue, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            return self._invalid("Invalid request.\n\nBody must be an object.")
        state = body.get("state", issue.state)
        reason = body.get("state_reason", issue.state_reason)
        if state not in ("open", "closed"):
            return self._invalid(f"Invalid request.\n\n{state!r} is not a valid state.")
        if reason not in (None, "completed", "not_planned", "reopened"):
            return self._invalid(f"Invalid request.\n\n{reason!r} is not a valid state_reason.")
        issue.state, issue.state_reason = state, reason
        issue.closed_at = _now() if state == "closed" else None
        issue.updated_at = _now()
        return 200, self.issue_json(issue), {}

    def _content_json(self, path: str) -> dict[str, Any]:
        text, sha = self.files[path]
        encoded = base64.b64encode(text.encode()).decode()
        html = f"https://github.com/{self.owner}/{self.repo}/blob/main/{path}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(text.encode()),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)),
            "sha": sha,
            "url": f"{self.api}/contents/{path}",
            "git_url": f"{self.api}/git/blobs/{sha}",
            "html_url": html,
            "download_url": f"https://raw.githubusercontent.com/{self.owner}/{self.repo}/main/{path}",
            "_links": {"self": f"{self.api}/contents/{path}", "git": None, "html": html},
        }

    def _get_file(self, path: str) -> tuple[int, Any, dict[str, str]]:
        if path not in self.files:
            return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}
        return 200, self._content_json(path), {}

    def _put_file(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return self._invalid('Invalid request.\n\n"message" wasn\'t supplied.')
        try:
            text = base64.b64decode(str(body.get("content", "")), validate=True).decode()
        except ValueError:
            return self._invalid("content is not valid Base64")
        existing = self.files.get(path)
        if existing is not None and "sha" not in body:
            return self._invalid('Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and body["sha"] != existing[1]:
            return 409, {"message": f"{path} does not match {body['sha']}", "status": "409"}, {}
        sha = hashlib.sha1(f"blob {len(text.encode())}\0{text}".encode()).hexdigest()
        self.files[path] = (text, sha)
        self.commits += 1
        commit_sha = hashlib.sha1(f"commit {self.commits} {path}".encode()).hexdigest()
        commit = {
            "sha": commit_sha,
            "node_id": f"C_{commit_sha[:12]}",
            "url": f"{self.api}/git/commits/{commit_sha}",
            "html_url": f"https://github.com/{self.owner}/{self.repo}/commit/{commit_sha}",
            "author": {"name": "symphony", "email": "symphony@example.com", "date": _now()},
            "committer": {"name": "symphony", "email": "symphony@example.com", "date": _now()},
            "message": body["message"],
            "tree": {"sha": commit_sha[::-1], "url": f"{self.api}/git/trees/{commit_sha[::-1]}"},
            "parents": [],
        }
        status = 200 if existing is not None else 201
        return status, {"content": self._content_json(path), "commit": commit}, {}

    # -- for assertions -------------------------------------------------------------------------

    def issue_comments(self, number: int) -> list[str]:
        """Bodies of an issue's comments."""
        with self._lock:
            return [c["body"] for c in self.issues[number].comments]
