"""Incidents: what an Alertmanager notification means for tickets, silences and retries.

Plain Python, no I/O. An alert (identified by Alertmanager's fingerprint) has at most one open
incident. The receiver turns each alert of a notification into *work* (open a ticket, comment,
resolve, silence, expire a silence) that a worker carries out later, off the request path;
this module decides which work, renders the ticket text and says how long to wait before a
failed call is tried again.

Lifecycle of one fingerprint:
- firing, no open incident -> open a GitHub issue and/or a Jira issue; once a ticket exists
  for a `warning` alert, an Alertmanager silence naming it (the noise is muted while a human
  owns the ticket);
- firing, incident open -> one comment on each ticket (a repeat notification);
- resolved -> a comment and the ticket closed (GitHub) / moved to done (Jira), the silence
  expired. A silenced alert's resolution never reaches a webhook (Alertmanager mutes resolved
  notifications too), so the worker also reconciles: an open, silenced incident whose alert
  Alertmanager no longer lists is resolved the same way.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.core.validation import FieldError

# Targets: which outside service a piece of work talks to. Work for one incident and one
# target runs in the order it was queued (a comment never overtakes the ticket it goes on).
GITHUB = "github"
JIRA = "jira"
ALERTMANAGER = "alertmanager"
REPORTS = "reports"
TARGETS = (GITHUB, JIRA, ALERTMANAGER, REPORTS)

# Kinds of work.
OPEN = "open"
COMMENT = "comment"
RESOLVE = "resolve"
SILENCE = "silence"
EXPIRE_SILENCE = "expire_silence"
RUN_REPORTS = "run_reports"

FIRING = "firing"
RESOLVED = "resolved"
SILENCED_SEVERITIES = frozenset({"warning"})
MAX_ALERTS = 500
MAX_LABEL = 1024
FINGERPRINT = re.compile(r"^[0-9a-f]{1,64}$")


class InvalidNotification(ValueError):
    """A webhook body that is not Alertmanager's version-4 payload; names each field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(errors[0].message if errors else "invalid notification")
        self.errors = list(errors)


class RetryLater(Exception):
    """A call failed in a way worth trying again (5xx, timeouts, rate limits)."""

    def __init__(self, reason: str, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_s = after_s


class GiveUp(Exception):
    """A call failed in a way retrying cannot fix (bad credentials, a missing project)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Alert:
    """One alert of an Alertmanager notification."""

    fingerprint: str
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str = ""
    ends_at: str = ""
    generator_url: str = ""

    @property
    def name(self) -> str:
        """The alert's name."""
        return self.labels.get("alertname", "unnamed")

    @property
    def severity(self) -> str:
        """The `severity` label (warning when absent)."""
        return self.labels.get("severity", "warning")

    @property
    def model(self) -> str | None:
        """The `model` label, when the alert is about one model."""
        return self.labels.get("model") or None

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as stored with the incident."""
        return {
            "fingerprint": self.fingerprint,
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "generatorURL": self.generator_url,
        }


def _text_map(value: Any, path: str, errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(value, dict):
        errors.append(FieldError(path, "must be an object of strings"))
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str) or len(item) > 16 * MAX_LABEL or len(key) > MAX_LABEL:
            errors.append(FieldError(f"{path}.{key}", "must be a string"))
            continue
        out[key] = item
    return out


def parse_notification(body: Any) -> list[Alert]:
    """The alerts of an Alertmanager webhook body (version "4"), or InvalidNotification."""
    errors: list[FieldError] = []
    if not isinstance(body, dict):
        raise InvalidNotification([FieldError("$", "must be a JSON object")])
    if body.get("version") != "4":
        errors.append(FieldError("$.version", 'must be "4" (Alertmanager webhook payload)'))
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list):
        errors.append(FieldError("$.alerts", "must be a list"))
        raise InvalidNotification(errors)
    if len(raw_alerts) > MAX_ALERTS:
        errors.append(FieldError("$.alerts", f"at most {MAX_ALERTS} alerts"))
    alerts: list[Alert] = []
    for index, raw in enumerate(raw_alerts[:MAX_ALERTS]):
        path = f"$.alerts[{index}]"
        if not isinstance(raw, dict):
            errors.append(FieldError(path, "must be an object"))
            continue
        status = raw.get("status")
        if status not in (FIRING, RESOLVED):
            errors.append(FieldError(f"{path}.status", 'must be "firing" or "resolved"'))
        fingerprint = raw.get("fingerprint")
        if not isinstance(fingerprint, str) or not FINGERPRINT.match(fingerprint):
            errors.append(FieldError(f"{path}.fingerprint", "must be a hex fingerprint"))
        labels = _text_map(raw.get("labels"), f"{path}.labels", errors)
        if labels and "alertname" not in labels:
            errors.append(FieldError(f"{path}.labels.alertname", "is required"))
        annotations = _text_map(raw.get("annotations", {}), f"{path}.annotations", errors)
        times = {}
        for key in ("startsAt", "endsAt", "generatorURL"):
            value = raw.get(key, "")
            if not isinstance(value, str) or len(value) > 2048:
                errors.append(FieldError(f"{path}.{key}", "must be a string"))
                value = ""
            times[key] = value
        if not errors:
            alerts.append(
                Alert(
                    str(fingerprint),
                    str(status),
                    labels,
                    annotations,
                    times["startsAt"],
                    times["endsAt"],
                    times["generatorURL"],
                )
            )
    if errors:
        raise InvalidNotification(errors)
    return alerts


@dataclass(frozen=True)
class Incident:
    """The stored state of one alert's incident."""

    id: int
    fingerprint: str
    alertname: str
    severity: str
    model: str | None
    state: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    notifications: int = 1
    github_number: int | None = None
    github_url: str | None = None
    jira_key: str | None = None
    jira_url: str | None = None
    silence_id: str | None = None
    last_event: str = ""
    last_event_at: datetime | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    problem: str | None = None
    pending: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form for GET /incidents."""

        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat(timespec="seconds") if moment else None

        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "severity": self.severity,
            "model": self.model,
            "state": self.state,
            "labels": dict(self.labels),
            "summary": self.annotations.get("summary", ""),
            "runbook_url": self.annotations.get("runbook_url"),
            "notifications": self.notifications,
            "github": {"number": self.github_number, "url": self.github_url}
            if self.github_number
            else None,
            "jira": {"key": self.jira_key, "url": self.jira_url} if self.jira_key else None,
            "silence_id": self.silence_id,
            "last_event": self.last_event,
            "last_event_at": iso(self.last_event_at),
            "opened_at": iso(self.opened_at),
            "resolved_at": iso(self.resolved_at),
            "work": {"pending": self.pending, "failed": self.failed},
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Work:
    """A unit of outbound work, as claimed from the store."""

    id: int
    kind: str
    target: str
    incident_id: int | None
    payload: Mapping[str, Any]
    attempts: int


@dataclass(frozen=True)
class NewWork:
    """Work to queue."""

    kind: str
    target: str
    payload: Mapping[str, Any] = field(default_factory=dict)


def work_for(alert: Alert, opened: bool, targets: Iterable[str]) -> list[NewWork]:
    """What a notification of `alert` asks of each ticket target.

    `opened`: this notification opened the incident (else it was already open, or, for a
    resolved alert, whether one is open at all).
    """
    kind = OPEN if opened else COMMENT
    if alert.status == RESOLVED:
        kind = RESOLVE
    work = [NewWork(kind, target, {"alert": alert.as_dict()}) for target in targets]
    if alert.status == RESOLVED:
        work.append(NewWork(EXPIRE_SILENCE, ALERTMANAGER))
    return work


def wants_silence(severity: str, silence_s: float) -> bool:
    """Whether a ticket for an alert of `severity` mutes the alert in Alertmanager."""
    return severity in SILENCED_SEVERITIES and silence_s > 0


def backoff_s(
    attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter after `attempts` failed tries (1, 2, ...)."""
    ceiling = min(cap_s, base_s * (2 ** max(attempts - 1, 0)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_delay_s(
    error: RetryLater, attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """How long to wait: what the service asked for (bounded by one day), else backoff."""
    if error.after_s is not None:
        return min(max(error.after_s, 0.0), 86_400.0)
    return backoff_s(attempts, base_s, cap_s, rng)


def next_attempt(now: datetime, delay_s: float) -> datetime:
    """`now` plus `delay_s`."""
    return now + timedelta(seconds=delay_s)


# ---- ticket text ------------------------------------------------------------------------------


def ticket_title(alert: Alert) -> str:
    """`[severity] AlertName: model — summary`, one line."""
    subject = f"{alert.name}: {alert.model}" if alert.model else alert.name
    summary = alert.annotations.get("summary", "")
    title = f"[{alert.severity}] {subject}" + (f" — {summary}" if summary else "")
    return title[:250]


def ticket_body(alert: Alert, context: str) -> str:
    """Markdown body: description, runbook, labels, annotations, then Symphony's context."""
    lines = [alert.annotations.get("description", alert.annotations.get("summary", "")), ""]
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        lines += [f"Runbook: {runbook}", ""]
    lines += ["Labels:", ""]
    lines += [f"- `{key}` = `{value}`" for key, value in sorted(alert.labels.items())]
    lines += ["", "Annotations:", ""]
    lines += [f"- `{key}`: {value}" for key, value in sorted(alert.annotations.items())]
    lines += [
        "",
        f"Fingerprint: `{alert.fingerprint}`; started {alert.starts_at or 'unknown'}",
    ]
    if alert.generator_url:
        lines.append(f"Source: {alert.generator_url}")
    if context:
        lines += ["", context]
    return "\n".join(lines)[:60_000]


def repeat_comment(alert: Alert, count: int) -> str:
    """The comment a repeat notification adds."""
    return (
        f"Still firing (notification {count}); started {alert.starts_at or 'unknown'}.\n\n"
        + alert.annotations.get("description", "")
    ).strip()


def resolve_comment(alert: Alert) -> str:
    """The comment a resolution adds before the ticket is closed."""
    return f"Resolved at {alert.ends_at or 'unknown'}: {alert.name} is no longer firing."


def fingerprint_label(fingerprint: str) -> str:
    """The label that ties a ticket to its alert (finds a ticket opened before a crash)."""
    return f"alert-{fingerprint[:16]}"


class TicketTracker(Protocol):
    """GitHub or Jira, as the worker uses them; errors are RetryLater or GiveUp."""

    def find(self, fingerprint: str) -> tuple[str, str] | None:
        """(id, url) of an open ticket already filed for `fingerprint`, if any."""
        ...

    def open(self, alert: Alert, title: str, body: str) -> tuple[str, str]:
        """File a ticket; (id, url)."""
        ...

    def comment(self, ticket: str, text: str) -> None:
        """Add a comment."""
        ...

    def resolve(self, ticket: str, text: str) -> None:
        """Comment, then close / transition to done."""
        ...


class SilenceApi(Protocol):
    """Alertmanager's silences and alerts (API v2)."""

    def silence(self, matchers: Mapping[str, str], seconds: float, comment: str) -> str:
        """Create a silence; its id."""
        ...

    def expire(self, silence_id: str) -> None:
        """Expire a silence (already expired or gone is fine)."""
        ...

    def active_fingerprints(self) -> set[str]:
        """Fingerprints of every alert Alertmanager holds now (silenced ones included)."""
        ...
