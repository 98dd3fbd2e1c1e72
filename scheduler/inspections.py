"""Scheduled jobs of the inspections feature.

- `inspections.open.<plan>`: the plan's cron trigger (school time). On a school working day
  (not a holiday, not in a vacation unless the plan says so) it opens the round once and tells
  the staff group and each inspector. A round missed while the bot was down is caught up once
  at start-up while its deadline has not passed (the job's catch-up window).
- `inspections.check`: every 10 minutes: reminders before the deadline, the deadline's
  closing with the 通报 and the missed-round report to the director(s), each at most once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger

from actions import inspections
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob
from storage import inspection_calendar as calendar

CHECK_EVERY_MINUTES = 10
CHECK_JOB = "inspections.check"


def open_job_name(plan_key: str) -> str:
    """The stable job id of a plan's opening."""
    return f"inspections.open.{plan_key}"


def _opener(plan_key: str) -> Callable[[JobRun], Awaitable[None]]:
    async def run(job: JobRun) -> None:
        await inspections.open_plan_round(job.services, plan_key, job.occurrence)

    return run


async def check_rounds(job: JobRun) -> None:
    """Reminders, deadlines, 通报 and missed-round reports (each at most once per round)."""
    await inspections.check_rounds(job.services)


def jobs(services: Services) -> list[ScheduledJob]:
    """This feature's jobs, built from the school profile."""
    profile = services.profile
    found = [
        ScheduledJob(
            name=open_job_name(plan.key),
            description=f"open the {plan.name} round ({plan.key}) on school days; "
            "tell the staff group and the inspectors",
            trigger=profile.plan_trigger(plan),
            run=_opener(plan.key),
            catch_up=calendar.catch_up_window(profile, plan, services.now()),
        )
        for plan in profile.inspection.plans
    ]
    found.append(
        ScheduledJob(
            name=CHECK_JOB,
            description="inspection reminders before the deadline, 通报 at the deadline, "
            "missed rounds reported to the director",
            trigger=CronTrigger(minute=f"*/{CHECK_EVERY_MINUTES}", timezone=profile.tz),
            run=check_rounds,
            catch_up=timedelta(minutes=CHECK_EVERY_MINUTES),
        )
    )
    return found
