"""Scheduled jobs of repairs: the overdue digest and urgent alerts, and automatic acceptance."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger

from actions import tickets as act
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob

OVERDUE_EVERY_MINUTES = 5


async def check_overdue(run: JobRun) -> None:
    """One digest of newly overdue tickets to the repair group; urgent ones to the directors."""
    await act.check_overdue(run.services, stamp=run.occurrence.isoformat())


async def auto_accept(run: JobRun) -> None:
    """Close jobs left in 待验收 too long (default rating); tell the reporter."""
    await act.auto_accept(run.bot, run.services)


def jobs(services: Services) -> list[ScheduledJob]:
    """This feature's jobs, built from the school profile."""
    tz = services.profile.tz
    return [
        ScheduledJob(
            name="tickets.overdue",
            description="Overdue repair digest to the repair group; urgent alerts to directors",
            trigger=CronTrigger(minute=f"*/{OVERDUE_EVERY_MINUTES}", timezone=tz),
            run=check_overdue,
            catch_up=timedelta(minutes=OVERDUE_EVERY_MINUTES * 2),
        ),
        ScheduledJob(
            name="tickets.auto_accept",
            description="Accept repairs left waiting for acceptance too long",
            trigger=CronTrigger(minute=15, timezone=tz),
            run=auto_accept,
            catch_up=timedelta(hours=2),
        ),
    ]
