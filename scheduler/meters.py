"""Scheduled jobs of the meter readings (节约).

- `meters.ask`: daily at the profile's `read_at`; on a reading day (the weekly day, the
  month's last working day; working days only) each reader is asked once for their meters.
- `meters.report`: daily at `report_at` from the profile's `report_day` for ten days; last
  month's energy 通报 (text and chart) goes to the staff group once: claimed in the database,
  so a restart, a second firing or a catch-up after downtime never posts it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from actions import meters as act
from notices.services import Services
from scheduler.job import JobRun, ScheduledJob
from school.profile import SchoolProfile
from storage.stats import Month

ASK_JOB = "meters.ask"
REPORT_JOB = "meters.report"
WINDOW_DAYS = 10
CATCH_UP = timedelta(days=WINDOW_DAYS)


def report_due(profile: SchoolProfile, today: date) -> Month | None:
    """The month whose 通报 is due by `today` (last month, from the first working day on or
    after the report day)."""
    wanted = today.replace(day=profile.energy.report_day)
    if profile.calendar.next_working_day(wanted) > today:
        return None
    return Month.of(today).previous()


async def ask(job: JobRun) -> None:
    await act.ask_readings(job.services, job.occurrence)


async def report(job: JobRun) -> None:
    services = job.services
    today = job.occurrence.astimezone(services.profile.tz).date()
    month = report_due(services.profile, today)
    if month is not None:
        await act.publish_report(job.bot, services, month)


def _reads_on(profile: SchoolProfile) -> Callable[[datetime], bool]:
    def acts_on(occurrence: datetime) -> bool:
        day = occurrence.astimezone(profile.tz).date()
        return profile.energy.is_reading_day(profile.calendar, day)

    return acts_on


def _reports_on(profile: SchoolProfile) -> Callable[[datetime], bool]:
    def acts_on(occurrence: datetime) -> bool:
        today = occurrence.astimezone(profile.tz).date()
        due = report_due(profile, today)
        return due is not None and due != report_due(profile, today - timedelta(days=1))

    return acts_on


def jobs(services: Services) -> list[ScheduledJob]:
    """This feature's jobs (none when the profile lists no meters)."""
    profile = services.profile
    energy = profile.energy
    if not energy.meters:
        return []
    first = energy.report_day
    return [
        ScheduledJob(
            name=ASK_JOB,
            description="ask the readers for the meter readings on reading days",
            trigger=CronTrigger(
                hour=energy.read_at.hour, minute=energy.read_at.minute, timezone=profile.tz
            ),
            run=ask,
            catch_up=timedelta(hours=4),
            acts_on=_reads_on(profile),
        ),
        ScheduledJob(
            name=REPORT_JOB,
            description="last month's energy 通报 with its chart to the staff group, once",
            trigger=CronTrigger(
                day=f"{first}-{min(first + WINDOW_DAYS, 31)}",
                hour=energy.report_at.hour,
                minute=energy.report_at.minute,
                timezone=profile.tz,
            ),
            run=report,
            catch_up=CATCH_UP,
            acts_on=_reports_on(profile),
        ),
    ]
