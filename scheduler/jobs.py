"""The schedule: every time-based job, and how an occurrence of it runs exactly once.

Each feature module (`scheduler/<feature>.py`) returns its `ScheduledJob`s from `jobs()`.
A job's occurrence is claimed in the database before it runs (`storage.schedule`), so a job
that fires twice, or fires again after a restart, does its work once. What is due is worked out
from the clock and the claims, not from when the timer fired: every occurrence since the job's
last run inside its catch-up window, oldest first, or only the latest for a job that fires
hourly or more often (`due_occurrences`). So an occurrence missed while the bot was down, or
while the event loop was slow, runs once: the application's lifecycle (`bot.lifecycle`)
catches up at start-up, and puts the jobs on python-telegram-bot's JobQueue. The clock is
injected: tests call `run_due()` with a manual clock instead of waiting. Jobs get the bot and
the services (`JobRun`), not the application: they know nothing of handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from telegram import Bot
from telegram.ext import Application

from notices import outbox
from notices.services import Services
from scheduler import features
from scheduler.job import JobRun, ScheduledJob
from storage import schedule

log = logging.getLogger(__name__)

MAX_OCCURRENCE_STEPS = 20_000
# A job whose occurrences come this close together is caught up by its latest one only.
FREQUENT = timedelta(hours=1)


@dataclass(frozen=True)
class Runner:
    """What jobs run with: the bot and the services."""

    bot: Bot
    services: Services

    @classmethod
    def of(cls, source: Runner | Application[Any, Any, Any, Any, Any, Any]) -> Runner:
        """The runner itself, or the bot and services of an application."""
        if isinstance(source, Runner):
            return source
        services = getattr(source.bot_data, "services", None)
        if not isinstance(services, Services):
            raise RuntimeError("services are not attached to the application")
        return cls(source.bot, services)


JobSource = Runner | Application[Any, Any, Any, Any, Any, Any]


def occurrences(trigger: BaseTrigger, now: datetime, window: timedelta) -> list[datetime]:
    """The trigger's fire times in [now - window, now], oldest first."""
    found: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now - window)
    while fire is not None and fire <= now and len(found) < MAX_OCCURRENCE_STEPS:
        found.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return found


def latest_occurrence(trigger: BaseTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The trigger's most recent fire time in [now - window, now], or None."""
    found = occurrences(trigger, now, window)
    return found[-1] if found else None


def due_occurrences(
    job: ScheduledJob, now: datetime, *, last_run: datetime | None = None
) -> list[datetime]:
    """The occurrences to run (unless they ran already), oldest first.

    Every occurrence inside the job's catch-up window since its last run (`last_run`, the
    latest occurrence claimed), so each one missed while the bot was down runs once. Only the
    latest for a job that has never run (nothing was missed before the bot knew the job, so a
    first start does not replay a window of old occurrences) and for a job that fires every
    hour or more often (a 5-minute digest need not run once per missed 5 minutes).
    """
    found = occurrences(job.trigger, now, job.catch_up)
    frequent = any(later - earlier <= FREQUENT for earlier, later in pairwise(found))
    if last_run is None or frequent:
        return found[-1:]
    return [occurrence for occurrence in found if occurrence > last_run] or found[-1:]


def next_occurrence(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's next fire time after now."""
    return trigger.get_next_fire_time(None, now + timedelta(microseconds=1))


def next_run(job: ScheduledJob, now: datetime) -> datetime | None:
    """The next occurrence after now at which the job does its work (`houqin jobs list`)."""
    fire = next_occurrence(job.trigger, now)
    steps = 0
    while fire is not None and job.acts_on is not None and not job.acts_on(fire):
        steps += 1
        if steps > MAX_OCCURRENCE_STEPS:
            return None
        fire = next_occurrence(job.trigger, fire)
    return fire


def all_jobs(services: Services) -> list[ScheduledJob]:
    """Every job of every feature, built from the school profile."""
    # Imported here: each feature module imports this one for ScheduledJob.
    found: list[ScheduledJob] = []
    for source in features.job_sources():
        found.extend(source(services))
    return found


async def run_occurrence(source: JobSource, job: ScheduledJob, occurrence: datetime) -> bool:
    """Claim and run one occurrence, then deliver what it queued; False when it had already
    been claimed."""
    runner = Runner.of(source)
    services = runner.services
    async with services.database.transaction() as session:
        claimed = await schedule.claim(
            session, job=job.name, occurrence=occurrence, now=services.now()
        )
    if not claimed:
        log.debug("job %s for %s already ran; skipped", job.name, occurrence)
        return False
    log.info("running job %s for %s", job.name, occurrence)
    await job.run(JobRun(bot=runner.bot, services=services, occurrence=occurrence))
    async with services.database.transaction() as session:
        await schedule.finish(session, job=job.name, occurrence=occurrence, now=services.now())
    await outbox.deliver(runner.bot, services)
    return True


async def run_job(source: JobSource, job: ScheduledJob) -> bool:
    """Run the job's due occurrences that have not run yet; True if any ran."""
    runner = Runner.of(source)
    services = runner.services
    async with services.database.reading() as session:
        last = await schedule.last_run(session, job.name)
    ran = False
    due = due_occurrences(job, services.now(), last_run=last.occurrence if last else None)
    for occurrence in due:
        ran = await run_occurrence(runner, job, occurrence) or ran
    return ran


async def run_due(source: JobSource, *, names: Sequence[str] | None = None) -> list[str]:
    """Run every job's due occurrences that have not run yet; the names of the jobs that ran.

    At start-up this catches up what was missed while the bot was down; tests call it after
    moving the manual clock.
    """
    runner = Runner.of(source)
    ran = []
    for job in all_jobs(runner.services):
        if names is not None and job.name not in names:
            continue
        if await run_job(runner, job):
            ran.append(job.name)
    return ran


async def catch_up(
    source: JobSource,
    *,
    stopping: Callable[[], bool] = lambda: False,
    moment: str = "after start",
) -> list[str]:
    """`run_due` for start-up (or, with several workers, for the worker taking the lead: the
    log says which `moment`): a job that fails is logged and the others still run; when
    `stopping()` turns true, the jobs not started yet are left to the next start."""
    runner = Runner.of(source)
    ran: list[str] = []
    for job in all_jobs(runner.services):
        if stopping():
            log.info(
                "stopping: the catch-up of %s and later jobs is left to the next start", job.name
            )
            return ran
        try:
            if await run_job(runner, job):
                ran.append(job.name)
        except Exception:
            log.exception("catching up job %s failed", job.name)
    log.info("caught up %s: %s", moment, ", ".join(ran) or "nothing was missed")
    return ran


async def run_now(source: JobSource, name: str) -> None:
    """Run one job immediately for the current time (`houqin jobs run NAME`)."""
    runner = Runner.of(source)
    services = runner.services
    job = next((j for j in all_jobs(services) if j.name == name), None)
    if job is None:
        known = ", ".join(j.name for j in all_jobs(services))
        raise LookupError(f"no job {name!r}; jobs: {known}")
    await run_occurrence(runner, job, services.now())
