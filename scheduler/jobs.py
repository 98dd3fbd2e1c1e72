"""The schedule: every time-based job, run by APScheduler (python-telegram-bot's JobQueue).

Each feature module (`scheduler/<feature>.py`) returns its `ScheduledJob`s from `jobs()`.
A job's occurrence is claimed in the database before it runs (`storage.schedule`), so a job
that fires twice, or fires again after a restart, does its work once; an occurrence missed
while the bot was down runs once at start-up when it is still within the job's catch-up window.
The clock is injected: tests call `run_due()` with a manual clock instead of waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from handlers.context import HouqinApp, HouqinContext
from notices import outbox
from notices.services import Services
from storage import schedule

log = logging.getLogger(__name__)

MAX_OCCURRENCE_STEPS = 20_000
OUTBOX_INTERVAL = timedelta(seconds=5)


@dataclass(frozen=True)
class JobRun:
    """What a job's body gets: the application, its services, and the occurrence it runs for."""

    application: HouqinApp
    services: Services
    occurrence: datetime


@dataclass(frozen=True)
class ScheduledJob:
    """A named, time-based job with a trigger in the school's time zone."""

    name: str  # stable id, e.g. "tickets.overdue"
    description: str
    trigger: BaseTrigger
    run: Callable[[JobRun], Awaitable[None]]
    catch_up: timedelta = timedelta(hours=1)  # how late a missed occurrence may still run


def latest_occurrence(trigger: BaseTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The trigger's most recent fire time in (now - window, now], or None."""
    start = now - window
    fire = trigger.get_next_fire_time(None, start)
    latest = None
    steps = 0
    while fire is not None and fire <= now and steps < MAX_OCCURRENCE_STEPS:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        steps += 1
    return latest


def next_occurrence(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's next fire time after now."""
    return trigger.get_next_fire_time(None, now + timedelta(microseconds=1))


def all_jobs(services: Services) -> list[ScheduledJob]:
    """Every job of every feature, built from the school profile."""
    # Imported here: each feature module imports this one for ScheduledJob.
    from scheduler.features import job_sources

    found: list[ScheduledJob] = []
    for source in job_sources():
        found.extend(source(services))
    return found


async def run_occurrence(application: HouqinApp, job: ScheduledJob, occurrence: datetime) -> bool:
    """Claim and run one occurrence; False when it had already been claimed."""
    services: Services = application.bot_data.services  # type: ignore[assignment]
    async with services.database.transaction() as session:
        claimed = await schedule.claim(
            session, job=job.name, occurrence=occurrence, now=services.now()
        )
    if not claimed:
        log.info("job %s for %s already ran; skipped", job.name, occurrence)
        return False
    log.info("running job %s for %s", job.name, occurrence)
    await job.run(JobRun(application=application, services=services, occurrence=occurrence))
    async with services.database.transaction() as session:
        await schedule.finish(session, job=job.name, occurrence=occurrence, now=services.now())
    await outbox.deliver(application.bot, services)
    return True


async def run_due(application: HouqinApp, *, names: Sequence[str] | None = None) -> list[str]:
    """Run every job whose latest occurrence (within its catch-up window) has not run yet.

    At start-up this catches up what was missed while the bot was down; tests call it after
    moving the manual clock. Returns the names of the jobs that ran.
    """
    services: Services = application.bot_data.services  # type: ignore[assignment]
    now = services.now()
    ran = []
    for job in all_jobs(services):
        if names is not None and job.name not in names:
            continue
        occurrence = latest_occurrence(job.trigger, now, job.catch_up)
        if occurrence is not None and await run_occurrence(application, job, occurrence):
            ran.append(job.name)
    return ran


async def run_now(application: HouqinApp, name: str) -> None:
    """Run one job immediately for the current time (`houqin jobs run NAME`)."""
    services: Services = application.bot_data.services  # type: ignore[assignment]
    job = next((j for j in all_jobs(services) if j.name == name), None)
    if job is None:
        known = ", ".join(j.name for j in all_jobs(services))
        raise LookupError(f"no job {name!r}; jobs: {known}")
    await run_occurrence(application, job, services.now())


def install(application: HouqinApp) -> None:
    """Put every job on python-telegram-bot's JobQueue, plus outbox delivery and catch-up."""
    services: Services = application.bot_data.services  # type: ignore[assignment]
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    def firing(job: ScheduledJob) -> Callable[[HouqinContext], Coroutine[Any, Any, None]]:
        async def fire(_context: HouqinContext) -> None:
            occurrence = latest_occurrence(job.trigger, services.now(), job.catch_up)
            if occurrence is not None:
                await run_occurrence(application, job, occurrence)

        return fire

    for job in all_jobs(services):
        job_queue.run_custom(
            firing(job),
            job_kwargs={
                "trigger": job.trigger,
                "id": job.name,
                "replace_existing": True,
                "misfire_grace_time": int(job.catch_up.total_seconds()),
                "coalesce": True,
            },
            name=job.name,
        )

    async def deliver(_context: HouqinContext) -> None:
        await outbox.deliver(application.bot, services)

    async def catch_up(_context: HouqinContext) -> None:
        ran = await run_due(application)
        if ran:
            log.info("caught up after start: %s", ", ".join(ran))

    job_queue.run_custom(
        deliver,
        job_kwargs={
            "trigger": IntervalTrigger(seconds=OUTBOX_INTERVAL.total_seconds()),
            "id": "outbox.deliver",
            "replace_existing": True,
            "coalesce": True,
        },
        name="outbox.deliver",
    )
    job_queue.run_once(catch_up, when=0, name="schedule.catch_up")
