"""Background jobs (APScheduler).

Two job stores in one scheduler per proxy:

- `memory` (the default): per-process work bound to this proxy's objects — live stats every
  few seconds, health probes.
- `store`: jobs kept in the database (`scheduler_jobs`, APScheduler's SQLAlchemy job store on
  the same engine as everything else), so a planned wake-up survives a restart. Every proxy of a
  fleet runs a scheduler over the same table; APScheduler 3 does not lock a shared job store, so
  a persistent job's function must be safe when two proxies run it at once: it claims its work
  in the store (row locks, unique keys), never trusts "I am the only runner". Functions are
  referenced by name (`module:function`), so they are module-level and reach this proxy's
  services through `services()`.

Modules add their jobs through `register` (called once, before the scheduler starts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from app.bootstrap import Services

log = logging.getLogger("symphony.jobs")

PERSISTENT = "store"
"""Name of the database job store: `scheduler.add_job(..., jobstore=PERSISTENT)`."""

Registrar = Callable[[BackgroundScheduler, Services], None]

_registrars: list[Registrar] = []
_current: Services | None = None


def register(registrar: Registrar) -> Registrar:
    """Add jobs when the scheduler starts (use as a decorator on a module-level function)."""
    if registrar not in _registrars:
        _registrars.append(registrar)
    return registrar


def services() -> Services:
    """This proxy's services, for persistent jobs (which are stored by name, not bound)."""
    if _current is None:
        raise RuntimeError("the scheduler has not started in this process")
    return _current


def start_jobs(services: Services) -> BackgroundScheduler:
    """Probe model upstreams once, then start the scheduler that publishes `model_stats`,
    refreshes model health and runs every registered job."""
    global _current
    _current = services
    # Before the app serves anything (bounded by the monitor's probe budget): a model whose
    # upstream is absent is skipped as `unhealthy` from the first request on, instead of
    # costing that request a failed attempt.
    services.monitor.refresh_model_health()
    scheduler = BackgroundScheduler(
        daemon=True,
        jobstores={
            "default": MemoryJobStore(),
            PERSISTENT: SQLAlchemyJobStore(engine=services.database, tablename="scheduler_jobs"),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    scheduler.add_job(
        services.monitor.tick,
        "interval",
        seconds=services.settings.stats_interval_s,
        id="model_stats",
    )
    scheduler.add_job(
        services.monitor.refresh_model_health,
        "interval",
        seconds=services.settings.health_interval_s,
        id="health",
    )
    for registrar in _registrars:
        registrar(scheduler, services)
    scheduler.start()
    return scheduler
