"""The incident desk: alerts in (from the receiver and the threshold jobs), tickets out.

`IncidentDesk.receive` only writes to the store (the incident and the work it implies) and
returns: nothing outside the proxy is called on the request path. `IncidentWorker` is one
thread per proxy that claims due work in bounded batches, calls GitHub, Jira and
Alertmanager, and retries failures with exponential backoff and jitter, or after the wait a
rate limit asked for, up to `SYMPHONY_INCIDENT_MAX_ATTEMPTS`; then the work is marked failed,
which GET /incidents shows. Every proxy of a fleet runs one; the store's leases keep them from
doing the same work twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.adapters.sql.incidents import SqlIncidents
from app.core.incidents import (
    ALERTMANAGER,
    COMMENT,
    EXPIRE_SILENCE,
    GITHUB,
    JIRA,
    OPEN,
    REPORTS,
    RESOLVE,
    RESOLVED,
    SILENCE,
    Alert,
    GiveUp,
    Incident,
    NewWork,
    RetryLater,
    SilenceApi,
    TicketTracker,
    Work,
    repeat_comment,
    resolve_comment,
    retry_delay_s,
    ticket_body,
    ticket_title,
    wants_silence,
    work_for,
)
from app.settings import IncidentSettings, Settings

if TYPE_CHECKING:
    from app.adapters.sql.records import SqlDecisionRecords
    from app.adapters.sql.run_reports import SqlRunReports
    from app.core.redaction import Redactor
    from app.events import EventBus
    from app.monitor import Monitor

log = logging.getLogger("symphony.incidents")

TICKET_FIELDS = {GITHUB: ("github_number", "github_url"), JIRA: ("jira_key", "jira_url")}
SERVICE_NAMES = {GITHUB: "GitHub", JIRA: "Jira", ALERTMANAGER: "Alertmanager", REPORTS: "GitHub"}


def _ticket(incident: Incident, target: str) -> str | None:
    if target == GITHUB:
        return str(incident.github_number) if incident.github_number else None
    return incident.jira_key


class IncidentDesk:
    """Turns alerts into incidents and queued work; reads incidents back."""

    def __init__(
        self,
        store: SqlIncidents,
        trackers: Mapping[str, TicketTracker],
        publish: Callable[[dict[str, Any]], None] = lambda message: None,
    ) -> None:
        self.store = store
        self._targets = tuple(trackers)
        self._publish = publish

    @property
    def targets(self) -> tuple[str, ...]:
        """The ticket targets configured (github, jira)."""
        return self._targets

    def receive(self, alert: Alert) -> tuple[Incident | None, bool]:
        """Store `alert` and queue its work; (incident, opened)."""
        incident, opened = self.store.receive(
            alert, lambda first: work_for(alert, first, self._targets)
        )
        if incident is not None and (opened or alert.status == RESOLVED):
            # The dashboard's live feed shape (app/telemetry.py's `alert`), plus the incident.
            summary = alert.annotations.get("summary", "")
            self._publish(
                {
                    "type": "alert",
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "severity": "critical" if alert.severity == "critical" else "warning",
                    "name": alert.name,
                    "model": alert.model,
                    "message": f"{alert.status}: {summary}" if summary else alert.status,
                    "status": alert.status,
                    "incident": incident.id,
                }
            )
        return incident, opened


@dataclass
class Outcome:
    """What one run of the worker did (for tests and the drill)."""

    done: int = 0
    retried: int = 0
    failed: int = 0


class IncidentWorker:
    """Carries out queued work: tickets, comments, resolutions, silences, run reports."""

    def __init__(
        self,
        desk: IncidentDesk,
        settings: IncidentSettings,
        trackers: Mapping[str, TicketTracker],
        silences: SilenceApi | None,
        context: Callable[[Alert], str] = lambda alert: "",
        redact: Callable[[str], str] = lambda text: text,
        reports: Callable[[Mapping[str, Any]], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._desk = desk
        self._store = desk.store
        self._settings = settings
        self._trackers = dict(trackers)
        self._silences = silences
        self._context = context
        self._redact = redact
        self._reports = reports
        self._rng = rng or random.Random()
        self.name = f"worker-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reconcile = 0.0

    # ---- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread until stop()."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="incident-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the current piece of work."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once().done > 0
                now = time.monotonic()
                if now - self._last_reconcile >= self._settings.reconcile_s:
                    self._last_reconcile = now
                    self.reconcile()
            except Exception as exc:  # the store is down, say: keep the thread, try later
                log.warning("incident worker: %s", self._redact(f"{type(exc).__name__}: {exc}"))
                busy = False
            if not busy:
                self._stop.wait(self._settings.poll_s)

    def run_once(self) -> Outcome:
        """Claim one batch of due work and carry it out."""
        outcome = Outcome()
        for work in self._store.claim(self.name, self._settings.batch, self._settings.lease_s):
            if self._stop.is_set():
                break
            self._carry_out(work, outcome)
        return outcome

    def drain(self, timeout_s: float = 30.0) -> Outcome:
        """Run until no work is due (tests and the drill); bounded by `timeout_s`."""
        total = Outcome()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            outcome = self.run_once()
            total.done += outcome.done
            total.retried += outcome.retried
            total.failed += outcome.failed
            if not (outcome.done or outcome.retried or outcome.failed):
                break
        return total

    # ---- one piece of work -----------------------------------------------------------------

    def _carry_out(self, work: Work, outcome: Outcome) -> None:
        service = SERVICE_NAMES.get(work.target, work.target)
        attempts = work.attempts + 1
        try:
            event = self._execute(work)
        except RetryLater as exc:
            reason = self._redact(exc.reason)
            if attempts >= self._settings.max_attempts:
                self._give_up(work, attempts, f"{service}: {reason} (gave up after {attempts})")
                outcome.failed += 1
                return
            delay = retry_delay_s(
                exc,
                attempts,
                self._settings.backoff_base_s,
                self._settings.backoff_cap_s,
                self._rng,
            )
            at = datetime.now(UTC) + timedelta(seconds=delay)
            self._store.retry(work.id, self.name, attempts, at, f"{service}: {reason}")
            log.info(
                "incident work %s (%s %s) retried in %.1fs: %s",
                work.id,
                work.target,
                work.kind,
                delay,
                reason,
            )
            if work.incident_id is not None:
                self._store.update(
                    work.incident_id, f"{service} {work.kind} retrying in {delay:.0f}s: {reason}"
                )
            outcome.retried += 1
            return
        except GiveUp as exc:
            self._give_up(work, attempts, f"{service}: {self._redact(exc.reason)}")
            outcome.failed += 1
            return
        except Exception as exc:  # a bug or an unexpected answer: retried, bounded, logged
            reason = self._redact(f"{type(exc).__name__}: {exc}")[:300]
            log.warning("incident work %s failed unexpectedly: %s", work.id, reason)
            if attempts >= self._settings.max_attempts:
                self._give_up(work, attempts, f"{service}: {reason}")
                outcome.failed += 1
                return
            delay = retry_delay_s(
                RetryLater(reason),
                attempts,
                self._settings.backoff_base_s,
                self._settings.backoff_cap_s,
                self._rng,
            )
            self._store.retry(
                work.id, self.name, attempts, datetime.now(UTC) + timedelta(seconds=delay), reason
            )
            outcome.retried += 1
            return
        self._store.done(work.id, self.name)
        if event:
            log.info("incident work %s: %s", work.id, self._redact(event))
        outcome.done += 1

    def _give_up(self, work: Work, attempts: int, reason: str) -> None:
        self._store.fail(work.id, self.name, attempts, reason)
        log.warning("incident work %s (%s %s) failed: %s", work.id, work.target, work.kind, reason)
        if work.incident_id is not None:
            self._store.update(
                work.incident_id, f"{work.kind} failed: {reason}"[:256], problem=reason
            )

    def _execute(self, work: Work) -> str:
        if work.target == REPORTS:
            if self._reports is None:
                raise GiveUp("run reports to GitHub are off")
            self._reports(work.payload)
            return "run reports exported"
        if work.incident_id is None:
            raise GiveUp(f"{work.kind} work without an incident")
        incident = self._store.get(work.incident_id)
        if incident is None:
            raise GiveUp(f"incident {work.incident_id} is gone")
        if work.target == ALERTMANAGER:
            return self._silence_work(work, incident)
        tracker = self._trackers.get(work.target)
        if tracker is None:
            raise GiveUp(f"{SERVICE_NAMES.get(work.target, work.target)} is not configured")
        alert = Alert(
            incident.fingerprint,
            str(work.payload.get("alert", {}).get("status", "firing")),
            incident.labels,
            incident.annotations,
            str(work.payload.get("alert", {}).get("startsAt", "")),
            str(work.payload.get("alert", {}).get("endsAt", "")),
            str(work.payload.get("alert", {}).get("generatorURL", "")),
        )
        ticket = _ticket(incident, work.target)
        service = SERVICE_NAMES[work.target]
        number_field, url_field = TICKET_FIELDS[work.target]
        if work.kind == OPEN:
            if ticket:
                return f"{service} ticket {ticket} already open"
            found = tracker.find(incident.fingerprint)
            if found is None:
                found = tracker.open(
                    alert, ticket_title(alert), ticket_body(alert, self._context(alert))
                )
            ident, url = found
            value: Any = int(ident) if work.target == GITHUB else ident
            self._store.update(
                incident.id,
                f"{service} ticket {ident} opened",
                **{number_field: value, url_field: url},
            )
            self._after_ticket(incident)
            return f"incident {incident.id}: {service} ticket {ident} opened ({url})"
        if ticket is None:
            if work.kind == RESOLVE:
                return f"incident {incident.id}: no {service} ticket to close"
            raise GiveUp(f"no {service} ticket to comment on")
        if work.kind == COMMENT:
            tracker.comment(ticket, repeat_comment(alert, incident.notifications))
            self._store.update(incident.id, f"{service} ticket {ticket}: repeat commented")
            return f"incident {incident.id}: commented on {service} ticket {ticket}"
        if work.kind == RESOLVE:
            tracker.resolve(ticket, resolve_comment(alert))
            self._store.update(incident.id, f"{service} ticket {ticket} closed")
            return f"incident {incident.id}: {service} ticket {ticket} closed"
        raise GiveUp(f"unknown work kind {work.kind}")

    def _after_ticket(self, incident: Incident) -> None:
        """Once the first ticket of a warning exists, mute the alert (once, fleet-wide)."""
        if self._silences is None or not wants_silence(incident.severity, self._settings.silence_s):
            return
        if incident.labels.get("source") == "symphony":
            return  # Symphony's own alerts (budgets) are not in Alertmanager to be muted
        self._store.enqueue(
            incident.id, [NewWork(SILENCE, ALERTMANAGER)], dedupe_key=f"silence:{incident.id}"
        )

    def _silence_work(self, work: Work, incident: Incident) -> str:
        if self._silences is None:
            raise GiveUp("SYMPHONY_ALERTMANAGER_URL is not set")
        if work.kind == SILENCE:
            if incident.state == RESOLVED or incident.silence_id:
                return f"incident {incident.id}: no silence needed"
            tickets = [url for url in (incident.github_url, incident.jira_url) if url]
            tickets += [
                url
                for url in self._fresh_urls(incident.id)
                if url not in tickets  # a second ticket opened since this work was queued
            ]
            noun = "tickets" if len(tickets) > 1 else "ticket"
            comment = f"Symphony incident {incident.id}: {noun} {', '.join(tickets)}"
            silence_id = self._silences.silence(incident.labels, self._settings.silence_s, comment)
            hours = self._settings.silence_s / 3600
            self._store.update(
                incident.id, f"silenced for {hours:g} h ({silence_id})", silence_id=silence_id
            )
            return f"incident {incident.id}: silence {silence_id}"
        if work.kind == EXPIRE_SILENCE:
            if not incident.silence_id:
                return f"incident {incident.id}: no silence to expire"
            self._silences.expire(incident.silence_id)
            self._store.update(incident.id, f"silence {incident.silence_id} expired")
            return f"incident {incident.id}: silence {incident.silence_id} expired"
        raise GiveUp(f"unknown work kind {work.kind}")

    def _fresh_urls(self, incident_id: int) -> list[str]:
        fresh = self._store.get(incident_id)
        if fresh is None:
            return []
        return [url for url in (fresh.github_url, fresh.jira_url) if url]

    # ---- reconciliation --------------------------------------------------------------------

    def reconcile(self) -> int:
        """Resolve open, silenced incidents whose alert Alertmanager no longer holds (a muted
        alert's resolution is never notified); how many were resolved."""
        if self._silences is None:
            return 0
        open_ones = self._store.open_silenced()
        if not open_ones:
            return 0
        held = self._silences.active_fingerprints()
        resolved = 0
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for incident in open_ones:
            if incident.fingerprint in held:
                continue
            alert = Alert(
                incident.fingerprint, RESOLVED, incident.labels, incident.annotations, "", now
            )
            found, _ = self._desk.receive(alert)
            if found is not None:
                resolved += 1
                log.info("incident %s: alert gone from Alertmanager, resolving", incident.id)
        return resolved


def ticket_context(
    statuses: Callable[[], list[Any]],
    decisions: Callable[[str | None], list[Mapping[str, Any]]],
    alert: Alert,
) -> str:
    """Markdown for a ticket: the model matrix rows (the alert's model, else all) and the
    reasons of the last decisions about it, as Symphony sees them when the ticket is filed."""
    lines: list[str] = []
    try:
        every = statuses()
        rows = [s for s in every if s.model == alert.model] or every
        if rows:
            lines += [
                "Model matrix:",
                "",
                "| model | window | rpm | tpm | USD today | healthy | cooling down |",
                "| --- | --- | --- | --- | --- | --- | --- |",
            ]
            for s in rows:
                cap = f" / {s.daily_usd_cap:g}" if s.daily_usd_cap else ""
                lines.append(
                    f"| {s.model} | {'open' if s.window.open else 'closed'} | {s.rpm}/{s.rpm_cap}"
                    f" | {s.tpm}/{s.tpm_cap} | {s.usd_today:.4f}{cap} | {s.healthy}"
                    f" | {s.cooling_down} |"
                )
        recent = decisions(alert.model)
        if recent:
            lines += ["", "Last decisions:", ""]
            for result in recent:
                reasons = "; ".join(
                    f"{r.get('model', '-')}: {r.get('reason')}" for r in result.get("reasons", [])
                )
                verdict = result.get("model") if result.get("allow") else result.get("denial")
                lines.append(f"- rule {result.get('rule')} -> {verdict}; {reasons or 'no reasons'}")
    except Exception as exc:  # context is a courtesy: a ticket without it beats no ticket
        lines.append(f"(Symphony's context unavailable: {type(exc).__name__})")
    return "\n".join(lines)


def build_incidents(
    settings: Settings,
    database: sa.Engine,
    bus: EventBus,
    monitor: Monitor,
    records: SqlDecisionRecords,
    reports: SqlRunReports,
    redactor: Redactor,
) -> tuple[IncidentDesk, IncidentWorker]:
    """The desk and this proxy's worker, with the trackers whose settings are complete."""
    from app.adapters.alertmanager import AlertmanagerApi
    from app.adapters.github import GitHubTracker
    from app.adapters.jira_client import JiraTracker
    from app.core.records import RecordQuery
    from app.run_export import GitHubRunReports

    options = settings.incidents
    trackers: dict[str, TicketTracker] = {}
    github: GitHubTracker | None = None
    if settings.github.enabled:
        github = GitHubTracker(settings.github, options.call_timeout_s)
        trackers[GITHUB] = github
    if settings.jira.enabled:
        trackers[JIRA] = JiraTracker(settings.jira, options, options.call_timeout_s)
    silences = (
        AlertmanagerApi(options.alertmanager_url, options.call_timeout_s)
        if options.alertmanager_url
        else None
    )

    def decisions(model: str | None) -> list[Mapping[str, Any]]:
        return [record.result for record in records.query(RecordQuery(model=model, limit=5))]

    exporter = None
    if github is not None and options.github_run_reports != "off":
        exporter = GitHubRunReports(github, database, options.report_batch).export
    desk = IncidentDesk(SqlIncidents(database), trackers, bus.publish)
    worker = IncidentWorker(
        desk,
        options,
        trackers,
        silences,
        context=lambda alert: ticket_context(monitor.statuses, decisions, alert),
        redact=redactor.redact,
        reports=exporter,
    )
    return desk, worker
