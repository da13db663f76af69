"""Deferred work: which refusals may wait, when the policy will allow them, and what a job is.

A request whose decision is refused for capacity alone (every candidate held back only by a
usage window, a rate or budget cap, a reserved budget or a cooldown) can be queued with a
deadline instead of being refused. Its planned start is read from the policy: the next opening
of a candidate's usage window (wall-clock times in the policy's IANA zone, across midnight and
daylight saving, the same semantics as policy/rego/windows.rego), the budget reset at local
midnight, the end of the trailing 60 s rate window, or the end of a cooldown. Jobs released at
the same opening are spaced by the policy's `deferred.release_share` of the model's rpm cap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app.core.counters import ModelUsage
from app.core.decision import Decision
from app.core.policy_document import DEFAULT_RELEASE_SHARE
from app.core.policy_view import PolicyView
from app.core.route_request import Message, RouteRequest

# The reason codes a deferred job may wait out (kind `capacity` in policy/rego/reasons.rego,
# except `unhealthy`: nothing in the policy says when a probe will pass again).
DEFERRABLE = frozenset(
    {
        "window_closed",
        "rpm_exhausted",
        "tpm_exhausted",
        "budget_exhausted",
        "budget_reserved",
        "cooling_down",
    }
)
# Why a deferred job expired: the last refusal's reason, or `deadline` when none was left.
EXPIRY_REASONS = DEFERRABLE | {"deadline"}
# Reasons that are outcomes, not refusals.
_OUTCOMES = frozenset({"chosen", "eligible"})

RATE_WINDOW_S = 60.0
# How far ahead openings are searched: a weekly window opens within 8 days.
_SEARCH_DAYS = 9

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
EXPIRED = "expired"
CANCELLED = "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, EXPIRED, CANCELLED)
TERMINAL = frozenset({DONE, FAILED, EXPIRED, CANCELLED})


def deferrable(decision: Decision) -> bool:
    """Whether a denied decision may wait: refused for capacity, and every candidate held
    back only by reasons in DEFERRABLE (no kill switch, guard or other governance refusal)."""
    if decision.allow or decision.denial_kind != "capacity" or not decision.candidates:
        return False
    refusals = [r for r in decision.reasons if r.reason not in _OUTCOMES]
    held = {r.model for r in refusals}
    return (
        bool(refusals)
        and all(r.reason in DEFERRABLE for r in refusals)
        and held >= set(decision.candidates)
    )


# ---- usage windows -------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _weekday(day: datetime) -> int:
    """0=Sunday ... 6=Saturday, as the policy numbers days."""
    return (day.weekday() + 1) % 7


def _on_day(window: Mapping[str, Any], day: int) -> bool:
    days = window.get("days")
    return not days or day in days


def _window_open(window: Mapping[str, Any], local: datetime) -> bool:
    start, end = _minutes(window["start"]), _minutes(window["end"])
    minute = local.hour * 60 + local.minute
    day = _weekday(local)
    today_end = end if start < end else 1440
    if _on_day(window, day) and start <= minute < today_end:
        return True
    return end <= start and minute < end and _on_day(window, (day + 6) % 7)


def window_open(windows: Sequence[Mapping[str, Any]], timezone: str, at: float) -> bool:
    """Whether any of `windows` is open at instant `at` (no windows: always open)."""
    if not windows:
        return True
    local = datetime.fromtimestamp(at, ZoneInfo(timezone))
    return any(_window_open(w, local) for w in windows)


def _instants(day: datetime, minute: int, zone: ZoneInfo) -> list[float]:
    """The instants the local wall clock reads `minute` on `day`: one, two in the hour
    repeated when clocks go back, or none in the hour skipped when they go forward."""
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    found = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).timestamp()
        back = datetime.fromtimestamp(instant, zone).replace(tzinfo=None)
        if back == wall:
            found.append(instant)
    return sorted(set(found))


def _jump(day: datetime, minute: int, zone: ZoneInfo) -> float:
    """The instant the clocks jump over a skipped wall-clock `minute` on `day`."""
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    earliest = wall.replace(tzinfo=zone, fold=1).timestamp()
    latest = wall.replace(tzinfo=zone, fold=0).timestamp()
    low, high = min(earliest, latest), max(earliest, latest)
    offset = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


def next_opening(windows: Sequence[Mapping[str, Any]], timezone: str, after: float) -> float | None:
    """The soonest instant strictly after `after` at which one of `windows` opens (a start on
    one of its days; when that start falls in the hour skipped by daylight saving, the moment
    the clocks jump, if the window is open then). None when no window ever opens."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(after, zone)
    best: float | None = None
    for offset in range(-1, _SEARCH_DAYS):
        day = local + timedelta(days=offset)
        for window in windows:
            if not _on_day(window, _weekday(day)):
                continue
            minute = _minutes(window["start"])
            instants = _instants(day, minute, zone)
            if not instants:
                jump = _jump(day, minute, zone)
                instants = (
                    [jump] if _window_open(window, datetime.fromtimestamp(jump, zone)) else []
                )
            for instant in instants:
                if instant > after and (best is None or instant < best):
                    best = instant
    return best


def next_midnight(timezone: str, after: float) -> float:
    """The next local midnight after `after` (when the daily budgets reset)."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(after, zone).date() + timedelta(days=1)
    instants = _instants(datetime(day.year, day.month, day.day), 0, zone)
    return instants[0] if instants else _jump(datetime(day.year, day.month, day.day), 0, zone)


# ---- the planned start ---------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """When a model may serve again, and the model."""

    at: float
    model: str


def _model_ready(
    codes: set[str],
    windows: Sequence[Mapping[str, Any]],
    policy: PolicyView,
    usage: ModelUsage | None,
    now: float,
) -> float | None:
    """The earliest instant at which none of `codes` holds any more, by the policy's clocks."""
    ready = now
    if codes & {"rpm_exhausted", "tpm_exhausted"}:
        ready = max(ready, now + RATE_WINDOW_S)
    if "cooling_down" in codes:
        until = usage.cooldown_until if usage and usage.cooldown_until else None
        ready = max(ready, until if until and until > now else now + policy.cooldown_seconds)
    if codes & {"budget_exhausted", "budget_reserved"}:
        ready = max(ready, next_midnight(policy.timezone, now))
    waits = "window_closed" in codes or ready > now
    if windows and waits and not window_open(windows, policy.timezone, ready):
        opening = next_opening(windows, policy.timezone, ready)
        if opening is None:
            return None
        ready = opening
    return ready


def planned_opening(
    decision: Decision,
    policy: PolicyView,
    usage: Mapping[str, ModelUsage],
    now: float,
) -> Opening | None:
    """The soonest instant a candidate of a deferrable decision should be able to serve,
    with that candidate; None when none ever can (a window on no day)."""
    codes: dict[str, set[str]] = {}
    for reason in decision.reasons:
        if reason.model is not None and reason.reason in DEFERRABLE:
            codes.setdefault(reason.model, set()).add(reason.reason)
    best: Opening | None = None
    for model in decision.candidates:
        spec = policy.models.get(model)
        if spec is None:
            continue
        ready = _model_ready(
            codes.get(model, set()), spec.usage_windows, policy, usage.get(model), now
        )
        if ready is not None and (best is None or ready < best.at):
            best = Opening(ready, model)
    return best


def release_share(document: Mapping[str, Any]) -> float:
    """The policy's `deferred.release_share` (0 < share <= 1), 0.5 when absent."""
    raw = (document.get("deferred") or {}).get("release_share", DEFAULT_RELEASE_SHARE)
    share = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0
    return share if 0 < share <= 1 else DEFAULT_RELEASE_SHARE


def release_spacing_s(rpm_cap: int, share: float) -> float:
    """Seconds between two jobs released at the same opening of a model: at most
    rpm_cap * share of them a minute."""
    return RATE_WINDOW_S / max(1.0, rpm_cap * share)


# ---- jobs -----------------------------------------------------------------------------------


def new_job_id(now: float) -> str:
    """`job_<UTC timestamp>_<random>`: sortable by time, unguessable."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"job_{stamp}_{secrets.token_hex(6)}"


def iso(at: float | None) -> str | None:
    """An instant as RFC 3339 UTC with milliseconds."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def request_to_json(request: RouteRequest) -> dict[str, Any]:
    """Everything needed to decide and run a request again later."""
    return {
        "task": request.task,
        "loa": request.loa,
        "risk": request.risk,
        "requires_tools": list(request.requires_tools),
        "est_tokens": request.est_tokens,
        "max_output_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "client": dict(request.client) if request.client is not None else None,
        "raw_messages": [dict(m) for m in request.raw_messages],
        "passthrough": dict(request.passthrough),
        "endpoint": request.endpoint,
        "forward_max_tokens": request.forward_max_tokens,
    }


def request_from_json(data: Mapping[str, Any]) -> RouteRequest:
    """The request stored by request_to_json (it never streams: nobody is listening)."""
    return RouteRequest(
        task=data["task"],
        loa=data["loa"],
        risk=data.get("risk", "low"),
        requires_tools=tuple(data.get("requires_tools", ())),
        est_tokens=data.get("est_tokens", 0),
        max_output_tokens=data["max_output_tokens"],
        temperature=data.get("temperature"),
        stream=False,
        model=data.get("model", "auto"),
        messages=tuple(Message(m["role"], m["content"]) for m in data.get("messages", ())),
        client=data.get("client"),
        raw_messages=tuple(data.get("raw_messages", ())),
        passthrough=dict(data.get("passthrough", {})),
        endpoint=data.get("endpoint", "chat/completions"),
        forward_max_tokens=data.get("forward_max_tokens", True),
    )


@dataclass
class Job:
    """A deferred request and everything that happened to it."""

    id: str
    state: str
    owner: str
    request: dict[str, Any]
    created_at: float
    deadline: float
    planned_start: float
    planned_model: str | None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    audit_id: str | None = None
    result: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    callback_url: str | None = None
    callback_state: str | None = None
    callback_attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of GET /jobs/<id>: the summary, every decision and attempt, the
        result."""
        return {
            **self.summary(),
            "decisions": self.decisions,
            "attempts": self.attempts,
            "result": self.result,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "request": {k: self.request.get(k) for k in ("task", "loa", "risk", "model")},
            "callback": None
            if self.callback_url is None
            else {
                "url": self.callback_url,
                "state": self.callback_state,
                "attempts": self.callback_attempts,
            },
        }

    def summary(self) -> dict[str, Any]:
        """The JSON form of one GET /jobs row."""
        return {
            "job_id": self.id,
            "state": self.state,
            "owner": self.owner,
            "created_at": iso(self.created_at),
            "deadline": iso(self.deadline),
            "planned_start": iso(self.planned_start),
            "planned_model": self.planned_model,
            "reasons": self.reasons,
            "audit_id": self.audit_id,
        }


MAX_PAGE = 500
"""The most jobs GET /jobs answers at once."""


@dataclass(frozen=True)
class JobQuery:
    """Filters and a page of GET /jobs (newest first)."""

    state: str | None = None
    model: str | None = None
    owner: str | None = None
    since: float | None = None
    until: float | None = None
    before: str | None = None
    limit: int = 100


def decision_entry(decision: Decision, decision_id: str | None, at: float) -> dict[str, Any]:
    """What a job keeps of each decision made for it."""
    return {
        "at": iso(at),
        "decision_id": decision_id,
        "allow": decision.allow,
        "denial": decision.denial,
        "model": decision.model,
        "revision": decision.revision,
        "reasons": [r.as_dict() for r in decision.reasons if r.reason not in _OUTCOMES],
    }


# ---- callbacks ------------------------------------------------------------------------------


def callback_host_allowed(url: str, hosts: Iterable[str]) -> bool:
    """Whether `url` is http(s) to a host (or host:port) on the allowlist."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    with_port = f"{host}:{parts.port}" if parts.port else host
    allowed = {h.strip().lower() for h in hosts if h.strip()}
    return host in allowed or with_port in allowed


def signature(secret: str, body: bytes) -> str:
    """The X-Symphony-Signature header value: sha256=<hex HMAC-SHA256 of the body>."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def callback_delay_s(attempts: int, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """Wait before callback delivery number `attempts + 1` (exponential, capped)."""
    return float(min(cap_s, base_s * (2.0 ** max(0, attempts - 1))))
