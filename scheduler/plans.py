"""Scheduled jobs of the semester plan (学期工作计划).

- `plans.daily`: every day at the profile's `remind_at`: owners reminded before each milestone
  and due date (working days; once per deadline and reminder: outbox keys), overdue items
  flagged to the directors once (claimed on the item).
- `plans.digest`: weekly on `digest_on` at `digest_at`: the digest to the leaders' group,
  once a week (keyed by the ISO week); caught up for two days after downtime.
"""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger

from actions import plans as act
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob

DAILY_JOB = "plans.daily"
DIGEST_JOB = "plans.digest"


async def daily(job: JobRun) -> None:
    await act.daily(job.services, job.occurrence)


async def digest(job: JobRun) -> None:
    await act.weekly_digest(job.services, job.occurrence)


def jobs(services: Services) -> list[ScheduledJob]:
    profile = services.profile
    plan = profile.plan
    return [
        ScheduledJob(
            name=DAILY_JOB,
            description="plan reminders before milestones and due dates; overdue items flagged",
            trigger=CronTrigger(
                hour=plan.remind_at.hour, minute=plan.remind_at.minute, timezone=profile.tz
            ),
            run=daily,
            catch_up=timedelta(days=1),
        ),
        ScheduledJob(
            name=DIGEST_JOB,
            description="the semester plan's weekly digest to the leaders' group",
            trigger=CronTrigger(
                day_of_week=plan.digest_on,
                hour=plan.digest_at.hour,
                minute=plan.digest_at.minute,
                timezone=profile.tz,
            ),
            run=digest,
            catch_up=timedelta(days=2),
        ),
    ]
