"""Incident drill: alert -> Alertmanager -> Symphony -> GitHub and Jira -> silence -> resolve.

Starts a proxy (gunicorn) with its OPA sidecar, a real Alertmanager (Debian package) that
notifies the proxy with its `alertmanager` key, and local stand-ins for GitHub and Jira (real
wire formats; nothing leaves the machine). Then pushes ProviderThrottling into Alertmanager
the way Prometheus does, and prints each step of the loop as it happens: the ticket on each
side, the silence that names them, the comment a repeat notification adds (the drill's
silence lasts 6 s so the repeat comes through), and the resolution that closes the issue,
moves the Jira issue to Done and expires the silence. Leaves nothing running.

Run: `just symphony-drill` (or `python scripts/incident_drill.py`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.alertmanager import post_alerts, silences, start_alertmanager
from tests.support.github_standin import GitHubStandIn
from tests.support.jira_standin import JiraStandIn
from tests.support.keys import bearer
from tests.support.processes import free_port, start_proxy_with_sidecar
from tests.support.stack import proxy_env
from tests.support.upstream import UpstreamServer

T = TypeVar("T")
ALERTMANAGER_KEY = "sym_drill-alertmanager-0123456789abcdefghijklmnopqrstuvwxyz"
SILENCE_S = 6
ALERT: dict[str, Any] = {
    "labels": {
        "alertname": "ProviderThrottling",
        "model": "hosted/primary",
        "severity": "warning",
    },
    "annotations": {
        "summary": "The upstream provider is throttling a model (HTTP 429).",
        "description": "62% of gateway attempts to hosted/primary were answered 429.",
        "runbook_url": "https://symphony.example.com/docs/runbooks.md#provider-429s",
    },
}

_started = time.monotonic()


def say(step: str, detail: str = "") -> None:
    """Print one step with the time since the drill began."""
    print(f"[{time.monotonic() - _started:6.1f}s] {step:<12} {detail}", flush=True)


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll until `check` is truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"drill failed: {what} did not happen within {timeout_s:.0f}s")


def main() -> None:
    """Run the loop once and print it."""
    work = Path(tempfile.mkdtemp(prefix="symphony-incident-drill-"))
    (work / "policy.json").write_text(
        (Path(__file__).resolve().parent.parent / "policy/examples/default.json").read_text()
    )
    github = GitHubStandIn().start()
    jira = JiraStandIn().start()
    upstream = UpstreamServer().start()
    key_file = work / "alertmanager.key"
    key_file.write_text(ALERTMANAGER_KEY + "\n")
    am_port = free_port()
    env = {
        **proxy_env("", work / "data", work / "policy.json", upstream.url),
        "GH_OWNER": github.owner,
        "GH_REPO": github.repo,
        "GH_TOKEN": github.token,
        "GH_API_URL": github.url,
        "JIRA_BASE_URL": jira.url,
        "JIRA_EMAIL": jira.email,
        "JIRA_API_TOKEN": jira.token,
        "JIRA_PROJECT": jira.project,
        "SYMPHONY_ALERTMANAGER_URL": f"http://127.0.0.1:{am_port}",
        "SYMPHONY_ALERTMANAGER_KEY": ALERTMANAGER_KEY,
        "SYMPHONY_SILENCE_DURATION": f"{SILENCE_S}s",
        "SYMPHONY_INCIDENT_POLL_S": "0.2",
    }
    proxy, opa = start_proxy_with_sidecar(work / "logs", env)
    alertmanager = start_alertmanager(
        work / "logs", work / "alertmanager", proxy.url, key_file, port=am_port
    )
    say("started", f"proxy {proxy.url}, Alertmanager {alertmanager.url}")
    say("", f"GitHub stand-in {github.url}, Jira stand-in {jira.url}")
    operator = requests.Session()
    operator.headers.update(bearer())

    def incident() -> dict[str, Any] | None:
        found = operator.get(f"{proxy.url}/incidents?state=all", timeout=10).json()["incidents"]
        return found[0] if found else None

    try:
        alert = {**ALERT, "startsAt": datetime.now(UTC).isoformat()}
        post_alerts(alertmanager.url, [alert])
        fired = time.monotonic()
        say("alert", "ProviderThrottling{model=hosted/primary} firing, pushed to Alertmanager")
        wait_for(incident, 30, "the notification")
        say("received", "Alertmanager notified POST /alerts/alertmanager; incident stored")
        issue = wait_for(lambda: github.issues.get(1), 30, "the GitHub issue")
        say("ticket", f"GitHub #{issue.number} {issue.title!r} labels={issue.labels}")
        ticket = wait_for(lambda: jira.issues.get("OPS-1"), 30, "the Jira issue")
        say("ticket", f"Jira {ticket.key} priority={ticket.fields['priority']['name']}")
        say("", f"alert firing -> both tickets: {time.monotonic() - fired:.1f}s")
        (silence,) = wait_for(lambda: silences(alertmanager.url), 30, "the silence")
        say("silence", f"{silence['id']} until {silence['endsAt']}: {silence['comment']}")
        wait_for(lambda: issue.comments and ticket.comments, SILENCE_S + 30, "a repeat")
        first = issue.comments[0]["body"]
        say("comment", f"silence over, Alertmanager repeated: GitHub: {first!r}")
        say("", f"Jira {ticket.key}: {len(ticket.comments)} comment(s)")
        post_alerts(alertmanager.url, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])
        say("resolve", "ProviderThrottling ended, pushed to Alertmanager")
        wait_for(lambda: issue.state == "closed" and ticket.status == "Done", 60, "the closing")
        say("closed", f"GitHub #{issue.number} {issue.state} ({issue.state_reason})")
        say("closed", f"Jira {ticket.key} -> {ticket.status} (transition {ticket.transitions})")
        wait_for(lambda: not silences(alertmanager.url), 30, "the silence expiring")
        say("unmuted", f"silence {silence['id']} expired")
        final = incident() or {}
        say("incident", f"{final.get('state')}: {final.get('last_event')}")
    finally:
        alertmanager.stop()
        opa.stop()
        proxy.stop()
        upstream.stop()
        github.stop()
        jira.stop()


if __name__ == "__main__":
    main()
