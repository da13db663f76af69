"""Running deferred jobs: planned, claimed from the store, decided again by OPA, executed.

Every proxy runs one DeferredRunner. `poll()` (a short interval job of the scheduler, plus a
persistent wake-up at the next planned start, see app/deferred_schedule.py) claims the jobs
that are due (one proxy wins each, see app/adapters/sql/jobs.py) and hands them to a small
fixed pool, so no request thread ever waits for a job and at most `workers` run at once per
proxy. A job is decided again when it starts: allowed, it runs; refused for capacity again, it
is queued with a new planned start; past its deadline it ends `expired` with the reasons of
the last decision. Callbacks are POSTed (HMAC-signed) with bounded, backed-off retries.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa

from app.adapters.sql.jobs import SqlJobs
from app.core.counters import CounterStore, CounterStoreUnavailable, budget_day
from app.core.deferred import (
    DONE,
    EXPIRED,
    FAILED,
    QUEUED,
    Job,
    callback_delay_s,
    decision_entry,
    deferrable,
    iso,
    new_job_id,
    planned_opening,
    release_share,
    release_spacing_s,
    request_from_json,
    request_to_json,
    signature,
)
from app.core.execution import ExecutionResult, Executor, RunStoreUnavailable
from app.core.ports import PolicyEngineUnavailable
from app.core.router import Plan
from app.events import EventBus
from app.metrics import SymphonyMetrics

log = logging.getLogger("symphony.deferred")

# A job refused at admission (another request took the last slot) or while the policy engine
# was down is tried again this much later.
RETRY_S = 5.0
CALLBACK_TIMEOUT_S = 5.0
CALLBACK_MAX_ATTEMPTS = 8
CALLBACK_LEASE_S = 30.0
CALLBACKS_PER_POLL = 4


class DeadlineUnreachable(Exception):
    """The policy allows the request no earlier than `planned_start`, after the deadline."""

    def __init__(self, planned_start: float | None) -> None:
        super().__init__("no planned start before the deadline")
        self.planned_start = planned_start


@dataclass(frozen=True)
class Planned:
    """A planned start: when, on which model, and the opening its release slot counts from."""

    start: float
    model: str
    opening_at: float


class DeferredRunner:
    """Plans, claims and runs this proxy's share of the deferred jobs."""

    def __init__(
        self,
        jobs: SqlJobs,
        executor: Executor,
        counters: CounterStore,
        metrics: SymphonyMetrics,
        bus: EventBus,
        clock: Callable[[], float],
        holder: str,
        workers: int = 4,
        lease_s: float = 600.0,
        callback_secret: str | None = None,
    ) -> None:
        self.jobs = jobs
        self._executor = executor
        self._counters = counters
        self._metrics = metrics
        self._bus = bus
        self._clock = clock
        self._holder = holder[:64]
        self._workers = max(1, workers)
        self._lease_s = lease_s
        self._secret = callback_secret
        self._lock = threading.Lock()
        self._polling = threading.Lock()
        self._busy = 0
        self._pool: ThreadPoolExecutor | None = None
        self._http = requests.Session()
        self.on_planned: Callable[[float], None] = lambda at: None

    def counts(self) -> dict[str, int]:
        """Jobs by state (empty while the store is unreachable, so a scrape still answers)."""
        try:
            return self.jobs.counts()
        except sa.exc.SQLAlchemyError:
            return {}

    # ---- planning ---------------------------------------------------------------------------

    def plan_start(self, plan: Plan, now: float) -> Planned | None:
        """When the policy should allow a capacity-refused decision, with its release slot."""
        policy = plan.policy
        try:
            usage = self._counters.usage(policy.models, now, budget_day(now, policy.timezone))
        except CounterStoreUnavailable:
            usage = {}
        opening = planned_opening(plan.decision, policy, usage, now)
        if opening is None:
            return None
        spec = policy.models[opening.model]
        slot = self.jobs.slots_taken(opening.model, opening.at)
        spacing = release_spacing_s(spec.rpm_cap, release_share(policy.document))
        return Planned(opening.at + slot * spacing, opening.model, opening.at)

    def defer(self, plan: Plan, owner: str, deadline: float, callback_url: str | None) -> Job:
        """Queue a capacity-refused request; DeadlineUnreachable when it cannot start in time."""
        now = self._clock()
        planned = self.plan_start(plan, now)
        if planned is None or planned.start > deadline:
            raise DeadlineUnreachable(None if planned is None else planned.start)
        entry = decision_entry(plan.decision, plan.decision_id, now)
        job = Job(
            id=new_job_id(now),
            state=QUEUED,
            owner=owner,
            request=request_to_json(plan.request),
            created_at=now,
            deadline=deadline,
            planned_start=planned.start,
            planned_model=planned.model,
            reasons=entry["reasons"],
            decisions=[entry],
            callback_url=callback_url,
        )
        self.jobs.add(job, planned.opening_at)
        self._publish(job)
        self.on_planned(planned.start)
        return job

    # ---- running ----------------------------------------------------------------------------

    def run_due(self) -> list[Job]:
        """Claim the due jobs and run them here, one after another (tests, drills)."""
        claimed = self.jobs.claim_due(self._clock(), self._workers, self._lease_s, self._holder)
        return [self.run(job) for job in claimed]

    def poll(self) -> int:
        """Claim as many due jobs as this proxy has free workers and start them; deliver due
        callbacks. Returns how many jobs were started. Never waits for a job; a poll that
        finds another one under way (the wake-up and the interval at once) does nothing."""
        if not self._polling.acquire(blocking=False):
            return 0
        try:
            return self._poll()
        finally:
            self._polling.release()

    def _poll(self) -> int:
        with self._lock:
            free = self._workers - self._busy
        started = 0
        if free > 0:
            claimed = self.jobs.claim_due(self._clock(), free, self._lease_s, self._holder)
            for job in claimed:
                self._submit(self._drain, job)
            started = len(claimed)
        self.deliver_callbacks()
        upcoming = self.jobs.next_planned()
        if upcoming is not None:
            self.on_planned(upcoming)
        return started

    def _submit(self, work: Callable[[Job], Any], job: Job) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="deferred")
            self._busy += 1
            pool = self._pool

        def done(_future: Any) -> None:
            with self._lock:
                self._busy -= 1

        pool.submit(work, job).add_done_callback(done)

    def _drain(self, job: Job) -> None:
        """Run `job`, then keep this worker on the due jobs left (one claim at a time) until
        none is due: a queue released at one opening does not wait for the next poll."""
        current: Job | None = job
        while current is not None:
            self.run(current)
            with self._lock:
                if self._pool is None:
                    return  # shutting down
            claimed = self.jobs.claim_due(self._clock(), 1, self._lease_s, self._holder)
            current = claimed[0] if claimed else None

    def shutdown(self) -> None:
        """Stop the pool (running jobs finish; their leases protect them if we die)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def run(self, job: Job) -> Job:
        """Decide a claimed job again and run, requeue, expire or fail it."""
        try:
            return self._run(job)
        except Exception:
            log.exception("deferred job %s failed unexpectedly; requeued", job.id)
            now = self._clock()
            job.attempts.append({"at": iso(now), "outcome": "error"})
            self._requeue(job, now, min(job.deadline, now + RETRY_S), job.planned_model, None)
            return job

    def _run(self, job: Job) -> Job:
        now = self._clock()
        if now > job.deadline:
            return self._end(job, EXPIRED, now)
        request = request_from_json(job.request)
        try:
            run = self._executor.begin(request, "off", "deferred")
        except (PolicyEngineUnavailable, RunStoreUnavailable) as exc:
            outcome = (
                "policy_engine_unavailable"
                if isinstance(exc, PolicyEngineUnavailable)
                else "run_store_unavailable"
            )
            job.attempts.append({"at": iso(now), "outcome": outcome, "detail": str(exc)[:200]})
            return self._retry_or_expire(job, now)
        decision = run.plan.decision
        entry = decision_entry(decision, run.plan.decision_id, now)
        job.decisions.append(entry)
        job.reasons = entry["reasons"]
        if not decision.allow:
            if not deferrable(decision):
                job.audit_id = self._executor.deny(run).run.audit_id
                job.result = {"error": decision.denial, "decision": decision.as_dict()}
                return self._end(job, FAILED, now)
            planned = self.plan_start(run.plan, now)
            if planned is None or planned.start > job.deadline:
                job.audit_id = self._executor.deny(run).run.audit_id
                return self._end(job, EXPIRED, now)
            return self._requeue(job, now, planned.start, planned.model, planned.opening_at)
        job.started_at = now
        self._metrics.job_started(now - job.created_at, now - job.planned_start)
        result = self._executor.complete(run)
        job.audit_id = result.run.audit_id
        job.attempts.append({**_attempt(result, now), "proxy": self._holder})
        if result.status == "ok":
            job.result = result.summary()
            return self._end(job, DONE, self._clock())
        if result.status == "denied":
            return self._retry_or_expire(job, now)
        job.result = result.summary()
        return self._end(job, FAILED, self._clock())

    def _retry_or_expire(self, job: Job, now: float) -> Job:
        if now + RETRY_S > job.deadline:
            return self._end(job, EXPIRED, now)
        return self._requeue(job, now, now + RETRY_S, job.planned_model, None)

    def _requeue(
        self,
        job: Job,
        now: float,
        start: float,
        model: str | None,
        opening_at: float | None,
    ) -> Job:
        job.state = QUEUED
        job.planned_start = start
        job.planned_model = model
        job.started_at = None
        if self.jobs.save(job, self._holder, opening_at=opening_at):
            self._publish(job)
            self.on_planned(start)
        return job

    def _end(self, job: Job, state: str, now: float) -> Job:
        job.state = state
        job.finished_at = now
        # The prompt was kept only to run the job later: it goes once the job has ended.
        job.request = {
            k: v for k, v in job.request.items() if k not in ("messages", "raw_messages")
        }
        extra: dict[str, Any] = {"lease_until": None}
        if job.callback_url:
            job.callback_state = "pending"
            extra["callback_next_at"] = now
        if not self.jobs.save(job, self._holder, **extra):
            log.warning("deferred job %s: lease lost before it was recorded", job.id)
            return job
        if state == EXPIRED:
            reason = job.reasons[0]["reason"] if job.reasons else "deadline"
            self._metrics.job_expired(reason)
        self._publish(job)
        return job

    def _publish(self, job: Job) -> None:
        self._bus.publish({"type": "job", "job": job.summary()})

    # ---- callbacks --------------------------------------------------------------------------

    def deliver_callbacks(self) -> int:
        """POST the due callbacks (bounded per poll); returns how many were delivered."""
        if not self._secret:
            return 0
        now = self._clock()
        delivered = 0
        for job in self.jobs.claim_callbacks(now, CALLBACKS_PER_POLL, CALLBACK_LEASE_S):
            delivered += self._deliver(job, now)
        return delivered

    def _deliver(self, job: Job, now: float) -> int:
        assert self._secret is not None and job.callback_url is not None
        body = json.dumps(job.as_dict(), separators=(",", ":"), sort_keys=True).encode("utf-8")
        attempts = job.callback_attempts + 1
        try:
            answer = self._http.post(
                job.callback_url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Symphony-Signature": signature(self._secret, body),
                    "X-Symphony-Job-Id": job.id,
                },
                timeout=CALLBACK_TIMEOUT_S,
                allow_redirects=False,
            )
            ok = 200 <= answer.status_code < 300
        except requests.RequestException:
            ok = False
        if ok:
            self.jobs.callback_outcome(job.id, "delivered", attempts, None)
            return 1
        if attempts >= CALLBACK_MAX_ATTEMPTS:
            self.jobs.callback_outcome(job.id, "failed", attempts, None)
        else:
            self.jobs.callback_outcome(
                job.id, "pending", attempts, now + callback_delay_s(attempts)
            )
        return 0


def _attempt(result: ExecutionResult, now: float) -> dict[str, Any]:
    return {
        "at": iso(now),
        "outcome": result.status,
        "audit_id": result.run.audit_id,
        "model": result.model,
        "error": result.error,
        "upstream": [a.as_dict() for a in result.attempts],
    }
