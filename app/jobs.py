"""Background jobs (APScheduler): live stats every few seconds, health probes."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from app.bootstrap import Services

log = logging.getLogger("symphony.jobs")


def start_jobs(services: Services) -> BackgroundScheduler:
    """Start the scheduler that publishes `model_stats` and refreshes model health."""
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
        services.monitor.probes, "interval", seconds=10, id="health", max_instances=1, coalesce=True
    )
    scheduler.start()
    return scheduler
