"""Waking the deferred runner (APScheduler, app/jobs.py).

Two wake-ups, both short and bounded (a poll claims at most the free workers' worth of jobs
and returns; the jobs run on the runner's pool):

- `deferred_poll`, per proxy (in-memory store): every SYMPHONY_DEFERRED_POLL_S, the safety net
  that also picks up jobs whose proxy died (lapsed leases) and due callbacks.
- `deferred_wake`, in the database job store: fires at the next planned start of any queued
  job, on every proxy, so a job starts on time without a tight poll. It is an interval trigger
  (one day) moved to each new earliest start rather than a date trigger, because APScheduler 3
  does not lock a shared job store: a date job is removed after it runs, and two proxies
  removing the same row make one of them fail; an interval job is only ever updated.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from app.bootstrap import Services
from app.jobs import PERSISTENT, register, services

log = logging.getLogger("symphony.deferred")

WAKE_ID = "deferred_wake"


def wake() -> None:
    """The persistent job: poll now (module-level: APScheduler stores it by name)."""
    services().deferred.poll()


class _Waker:
    """Moves the persistent wake-up earlier, to the soonest planned start this proxy has seen
    (a poll reports the store's soonest, so a fired or stale wake-up is replaced)."""

    def __init__(self, scheduler: BackgroundScheduler) -> None:
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._set_for: float | None = None

    def __call__(self, at: float) -> None:
        now = time.time()
        if at <= now:
            return  # already due: the poll takes it
        with self._lock:
            if self._set_for is not None and now < self._set_for <= at:
                return  # an earlier wake-up is already set
            self._set_for = at
        try:
            # Another proxy may have set an earlier one: never move it later.
            stored = self._scheduler.get_job(WAKE_ID, jobstore=PERSISTENT)
            if stored is not None and stored.next_run_time is not None:
                planned = stored.next_run_time.timestamp()
                if now < planned <= at:
                    with self._lock:
                        self._set_for = planned
                    return
            self._scheduler.add_job(
                "app.deferred_schedule:wake",
                IntervalTrigger(days=1, start_date=datetime.fromtimestamp(at, UTC)),
                id=WAKE_ID,
                jobstore=PERSISTENT,
                replace_existing=True,
            )
        except Exception:  # the poll still runs the job; say why the wake-up was not moved
            log.exception("could not move the deferred wake-up")


@register
def schedule_deferred(scheduler: BackgroundScheduler, wired: Services) -> None:
    """Add the per-proxy poll and hook the persistent wake-up to the runner."""
    scheduler.add_job(
        wired.deferred.poll,
        "interval",
        seconds=wired.settings.deferred_poll_s,
        id="deferred_poll",
    )
    wired.deferred.on_planned = _Waker(scheduler)
