"""Scheduled work of meeting and reception services.

`bookings.check` every 5 minutes (school time): the responsible staff are reminded once when
a booking's start is nearer than `bookings.remind_before` and its checklist is still open;
the director is told once when it is nearer than `bookings.escalate_before` (1 hour) and
still open; a booking that has ended is finished and its requester asked to rate it. What is
due is worked out from the bookings and their stamps (`reminded_at`, `escalated_at`, the
status), not from when the timer fired, so a check missed while the bot was down catches up
once at start-up, and a check that runs twice tells nobody twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger

from actions import bookings
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob

log = logging.getLogger(__name__)

CHECK_EVERY_MINUTES = 5
CHECK_JOB = "bookings.check"


async def check(job: JobRun) -> None:
    """Reminders, the 1-hour escalation and finishing, each once per booking."""
    counts = await bookings.check_bookings(job.services)
    if any(counts.values()):
        log.info("service bookings: %s", counts)


def jobs(services: Services) -> list[ScheduledJob]:
    """This feature's jobs."""
    return [
        ScheduledJob(
            name=CHECK_JOB,
            description="service bookings: remind the staff before the start, tell the "
            "director 1 hour before if the checklist is open, ask the requester to rate",
            trigger=CronTrigger(minute=f"*/{CHECK_EVERY_MINUTES}", timezone=services.profile.tz),
            run=check,
            catch_up=timedelta(days=2),
        )
    ]
