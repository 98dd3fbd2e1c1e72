"""Publishing the appraisal on schedule: the monthly results, the quarter summary, the year-end
ranking.

Each job fires every day of a window starting on the profile's publication day (school time);
the job publishes when the day has come (the publication day, or with ``next_working_day`` the
first working day from it) and the period is not published yet. So a period is published once
whatever the firing: the publication (`actions.appraisal.publish`) stores version 1 of the
period's snapshot, and later runs only find it there. A publication missed while the bot was
down goes out at start-up (the catch-up covers the window).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from actions.appraisal import NobodyAppraised, publish
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob
from school.profile import SchoolProfile
from storage import appraisal
from storage.appraisal import Period
from storage.stats import Month

log = logging.getLogger(__name__)

MONTHLY = "appraisal.monthly"
QUARTERLY = "appraisal.quarterly"
YEARLY = "appraisal.yearly"
WINDOW_DAYS = 10  # the job fires daily from the publication day for this many days
# A publication missed while the bot was down goes out when it is back: even after a month
# away (back on 3 December from 25 October: October, then November, in order).
CATCH_UP = timedelta(days=45)


# --- when ------------------------------------------------------------------------------------


def publication_day(profile: SchoolProfile, year: int, month: int, day: int) -> date:
    """The day results go out: the configured day, or the first working day from it."""
    wanted = date(year, month, day)
    if profile.appraisal.publish.next_working_day:
        return profile.calendar.next_working_day(wanted)
    return wanted


def due_period(kind: str, today: date, profile: SchoolProfile) -> Period | None:
    """The period of this kind whose publication day has come by ``today`` (this window)."""
    rule = profile.appraisal.publish
    if kind == "month":
        day = publication_day(profile, today.year, today.month, rule.monthly_day)
        return Period.of_month(Month.of(today).previous()) if day <= today else None
    if kind == "quarter":
        if today.month not in (1, 4, 7, 10):
            return None
        day = publication_day(profile, today.year, today.month, rule.quarterly_day)
        if day <= today:
            return appraisal.quarter_of(Month.of(today).previous())
        return None
    if today.month != 1:
        return None
    day = publication_day(profile, today.year, 1, rule.yearly_day)
    return Period(today.year - 1, "year") if day <= today else None


def _trigger(profile: SchoolProfile, day: int, months: str | None) -> CronTrigger:
    rule = profile.appraisal.publish
    last = min(day + WINDOW_DAYS, 31)
    return CronTrigger(
        month=months,
        day=f"{day}-{last}",
        hour=rule.time.hour,
        minute=rule.time.minute,
        timezone=profile.tz,
    )


def _publishes_on(kind: str, profile: SchoolProfile) -> Callable[[datetime], bool]:
    """Whether a firing is the publication day itself (the first firing that publishes)."""

    def acts_on(occurrence: datetime) -> bool:
        today = occurrence.astimezone(profile.tz).date()
        due = due_period(kind, today, profile)
        return due is not None and due != due_period(kind, today - timedelta(days=1), profile)

    return acts_on


def _runner(kind: str) -> Callable[[JobRun], Awaitable[None]]:
    async def run(job: JobRun) -> None:
        services = job.services
        today = job.occurrence.astimezone(services.profile.tz).date()
        period = due_period(kind, today, services.profile)
        if period is None:
            return
        try:
            outcome = await publish(job.bot, services, period)
        except NobodyAppraised:
            log.info("nobody was appraised in %s: nothing to publish", period)
            return
        if outcome.created:
            log.info("published the appraisal of %s", period)

    return run


# kind, job name, what it does, and the months its publication day falls in (None: every month)
PUBLICATIONS = (
    (
        "month",
        MONTHLY,
        "Publish last month's appraisal (ranking, grades, service star, chart)",
        None,
    ),
    ("quarter", QUARTERLY, "Publish the quarter's appraisal summary", "1,4,7,10"),
    ("year", YEARLY, "Publish the year-end ranking", "1"),
)


def jobs(services: Services) -> list[ScheduledJob]:
    """The monthly, quarterly and yearly publications, from the profile's publish rule."""
    profile = services.profile
    rule = profile.appraisal.publish
    days = {"month": rule.monthly_day, "quarter": rule.quarterly_day, "year": rule.yearly_day}
    return [
        ScheduledJob(
            name,
            description,
            _trigger(profile, days[kind], months),
            _runner(kind),
            catch_up=CATCH_UP,
            acts_on=_publishes_on(kind, profile),
        )
        for kind, name, description, months in PUBLICATIONS
    ]
