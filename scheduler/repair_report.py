"""The monthly repair report to the leaders' group, on the profile's day (``[repair.report]``).

As the appraisal's publication (scheduler.appraisal): the job fires every day of a window from
the report day (school time) and posts when the day has come (the day, or with
``next_working_day`` the first working day from it) and the month is not reported yet; the
record kept with the queued report (`actions.repair_report.post_month`) makes it once, and a
report missed while the bot was down goes out at start-up (the catch-up covers the window).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from actions.repair_report import post_month
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob
from school.profile import SchoolProfile
from storage.stats import Month

MONTHLY = "repairs.monthly_report"
WINDOW_DAYS = 10
CATCH_UP = timedelta(days=45)  # back after a month away: each missed month once, in order


def report_day(profile: SchoolProfile, year: int, month: int) -> date:
    """The day the report of the previous month goes out."""
    rule = profile.repair.report
    wanted = date(year, month, rule.day)
    return profile.calendar.next_working_day(wanted) if rule.next_working_day else wanted


def due_month(today: date, profile: SchoolProfile) -> Month | None:
    """The month whose report day has come by ``today`` (this window)."""
    if report_day(profile, today.year, today.month) <= today:
        return Month.of(today).previous()
    return None


def _reports_on(profile: SchoolProfile) -> Callable[[datetime], bool]:
    """Whether a firing is the report day itself (the first firing that posts)."""

    def acts_on(occurrence: datetime) -> bool:
        today = occurrence.astimezone(profile.tz).date()
        due = due_month(today, profile)
        return due is not None and due != due_month(today - timedelta(days=1), profile)

    return acts_on


async def run(job: JobRun) -> None:
    """Post the due month's report (once; a later firing only retries its chart)."""
    today = job.occurrence.astimezone(job.services.profile.tz).date()
    month = due_month(today, job.services.profile)
    if month is not None:
        await post_month(job.bot, job.services, month)


def jobs(services: Services) -> list[ScheduledJob]:
    """The monthly repair report, from the profile's ``[repair.report]``."""
    profile = services.profile
    rule = profile.repair.report
    trigger = CronTrigger(
        day=f"{rule.day}-{min(rule.day + WINDOW_DAYS, 31)}",
        hour=rule.time.hour,
        minute=rule.time.minute,
        timezone=profile.tz,
    )
    return [
        ScheduledJob(
            MONTHLY,
            "Post last month's repair numbers (KPIs, chart) to the leaders' group",
            trigger,
            run,
            catch_up=CATCH_UP,
            acts_on=_reports_on(profile),
        )
    ]
