"""Scheduled jobs of the work logs: the reminders and the evening summary.

The triggers fire every day at the profile's times (school time); the actions they call check
the school calendar, because a CronTrigger knows no holidays. Every message is queued in the
outbox under a key naming the day and the person, so a job that fires twice sends once.
"""

from __future__ import annotations

from datetime import time, timedelta

from apscheduler.triggers.cron import CronTrigger

from actions import worklogs as actions
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob

REMINDER_CATCH_UP = timedelta(hours=2)
SUMMARY_CATCH_UP = timedelta(hours=3)


def _daily(services: Services, at: time) -> CronTrigger:
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=services.profile.tz)


def jobs(services: Services) -> list[ScheduledJob]:
    """The reminder, the optional second reminder and the evening summary."""
    settings = services.profile.worklog
    tz = services.profile.tz

    async def reminder(run: JobRun) -> None:
        await actions.send_reminders(run.services, run.occurrence.astimezone(tz).date())

    async def second_reminder(run: JobRun) -> None:
        await actions.send_reminders(
            run.services, run.occurrence.astimezone(tz).date(), second=True
        )

    async def summary(run: JobRun) -> None:
        await actions.send_summary(run.services, run.occurrence.astimezone(tz).date())

    # name, what it does, at what time, its body, how late it may still run
    declared = [
        (
            "worklogs.reminder",
            "remind staff without today's work log (working days)",
            settings.reminder_time,
            reminder,
            REMINDER_CATCH_UP,
        ),
        (
            "worklogs.second_reminder",
            "remind again those still missing today's work log",
            settings.second_reminder_time,
            second_reminder,
            REMINDER_CATCH_UP,
        ),
        (
            "worklogs.summary",
            "the day's work-log summary to the director or leaders' group",
            settings.summary_time,
            summary,
            SUMMARY_CATCH_UP,
        ),
    ]
    return [
        ScheduledJob(name, description, _daily(services, time), body, catch_up=catch_up)
        for name, description, time, body, catch_up in declared
        if time is not None  # the second reminder is optional
    ]
