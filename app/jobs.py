"""Background jobs (APScheduler): live stats every few seconds, health probes."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from app.bootstrap import Services

log = logging.getLogger("symphony.jobs")


def start_jobs(services: Services) -> BackgroundScheduler:
    """Probe model upstreams once, then start the scheduler that publishes `model_stats` and
    refreshes model health."""
    # Before the app serves anything (bounded by the monitor's probe budget): a model whose
    # upstream is absent is skipped as `unhealthy` from the first request on, instead of
    # costing that request a failed attempt.
    services.monitor.refresh_model_health()
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(
        services.monitor.tick,
        "interval",
        seconds=services.settings.stats_interval_s,
        id="model_stats",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        services.monitor.refresh_model_health,
        "interval",
        seconds=services.settings.health_interval_s,
        id="health",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
