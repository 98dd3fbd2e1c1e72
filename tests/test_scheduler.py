"""scheduler.jobs: latest occurrences, claim-once across runs and restarts, catch-up once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.app import build_application
from bot.lifecycle import Lifecycle, polling
from devtools.harness import services_for_sandbox
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import features
from scheduler import jobs as schedule
from scheduler.job import JobRun, ScheduledJob
from school.clock import ManualClock
from storage import schedule as claims
from tests.conftest import SCHOOL_TZ

MORNING = CronTrigger(hour=8, minute=30, timezone=SCHOOL_TZ)


def test_latest_occurrence_is_the_last_fire_within_the_window() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=SCHOOL_TZ)
    fire = now.replace(hour=8, minute=30)
    assert schedule.latest_occurrence(MORNING, now, timedelta(hours=1)) == fire
    assert schedule.latest_occurrence(MORNING, now, timedelta(minutes=20)) is None
    # two days missed: only the most recent fire counts, once
    later = now + timedelta(days=2)
    assert schedule.latest_occurrence(MORNING, later, timedelta(days=3)) == fire + timedelta(days=2)
    assert schedule.latest_occurrence(MORNING, fire, timedelta(minutes=1)) == fire
    assert schedule.next_occurrence(MORNING, fire) == fire + timedelta(days=1)


class Recorder:
    """A job body that records the occurrences it ran for."""

    def __init__(self) -> None:
        self.ran: list[datetime] = []

    async def __call__(self, run: JobRun) -> None:
        self.ran.append(run.occurrence)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Replace every feature's jobs by one test job at 08:30 with a 3-hour catch-up window."""
    body = Recorder()

    def only_test_job(_services: Services) -> list[ScheduledJob]:
        return [
            ScheduledJob(
                name="test.morning",
                description="a test job",
                trigger=MORNING,
                run=body,
                catch_up=timedelta(hours=3),
            )
        ]

    monkeypatch.setattr(features, "job_sources", lambda: (only_test_job,))
    yield body


def _application(services: Services) -> HouqinApp:
    """A bot application that is never started (the test job sends nothing)."""
    settings = services.settings.model_copy(update={"telegram_bot_token": "1:TEST"})
    return build_application(
        Services(settings, services.profile, services.database, services.clock)
    )


async def test_an_occurrence_runs_once_across_runs_and_a_restart(
    services: Services, clock: ManualClock, recorder: Recorder
) -> None:
    clock.set(datetime(2026, 11, 23, 8, 30, tzinfo=SCHOOL_TZ))
    first = _application(services)
    assert await schedule.run_due(first) == ["test.morning"]
    assert await schedule.run_due(first) == []
    clock.advance(timedelta(minutes=5))
    restarted = _application(services)  # a new process on the same database
    assert await schedule.run_due(restarted) == []
    assert recorder.ran == [datetime(2026, 11, 23, 8, 30, tzinfo=SCHOOL_TZ)]
    async with services.database.transaction() as session:
        run = await claims.last_run(session, "test.morning")
    assert run is not None and run.finished_at is not None
    job = schedule.all_jobs(services)[0]
    assert not await schedule.run_occurrence(restarted, job, recorder.ran[0])


async def test_a_missed_occurrence_is_caught_up_exactly_once(
    services: Services, clock: ManualClock, recorder: Recorder
) -> None:
    # Down from Sunday to Tuesday 10:00: Monday's and Tuesday's 08:30 were missed.
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=SCHOOL_TZ))
    application = _application(services)
    assert await schedule.run_due(application) == ["test.morning"]
    assert await schedule.run_due(_application(services)) == []
    assert recorder.ran == [datetime(2026, 11, 24, 8, 30, tzinfo=SCHOOL_TZ)]
    # Beyond the catch-up window nothing runs.
    clock.set(datetime(2026, 11, 25, 11, 31, tzinfo=SCHOOL_TZ))
    assert await schedule.run_due(_application(services)) == []
    assert len(recorder.ran) == 1


async def test_run_now_and_the_feature_jobs_have_stable_names(services: Services) -> None:
    names = [job.name for job in schedule.all_jobs(services)]
    assert "inspections.open.weekly" in names and "inspections.open.monthly" in names
    assert "inspections.check" in names
    assert len(names) == len(set(names))
    with pytest.raises(LookupError):
        await schedule.run_now(_application(services), "no.such.job")


async def test_each_daily_occurrence_missed_since_the_last_run_runs_once_oldest_first(
    services: Services, clock: ManualClock, recorder: Recorder
) -> None:
    clock.set(datetime(2026, 11, 23, 8, 30, tzinfo=SCHOOL_TZ))
    assert await schedule.run_due(_application(services)) == ["test.morning"]  # Monday's
    # Down from Monday 09:00 to Wednesday 09:00, inside the 3-day window set below.
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=SCHOOL_TZ))
    [job] = schedule.all_jobs(services)
    wide = ScheduledJob(job.name, job.description, job.trigger, job.run, timedelta(days=3))
    runner = schedule.Runner.of(_application(services))
    assert await schedule.run_job(runner, wide)
    assert not await schedule.run_job(runner, wide)
    monday = datetime(2026, 11, 23, 8, 30, tzinfo=SCHOOL_TZ)
    assert recorder.ran == [monday, monday + timedelta(days=1), monday + timedelta(days=2)]


def test_only_the_latest_occurrence_of_a_new_or_frequent_job_is_due() -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=SCHOOL_TZ)
    daily = ScheduledJob("d", "daily", MORNING, Recorder(), timedelta(days=3))
    every_5 = CronTrigger(minute="*/5", timezone=SCHOOL_TZ)
    frequent = ScheduledJob("f", "every 5 minutes", every_5, Recorder(), timedelta(hours=1))
    monday = datetime(2026, 11, 23, 8, 30, tzinfo=SCHOOL_TZ)
    # A job that never ran: nothing was missed before the bot knew it (no back-filling).
    assert schedule.due_occurrences(daily, now) == [monday + timedelta(days=2)]
    assert schedule.due_occurrences(daily, now, last_run=monday) == [
        monday + timedelta(days=1),
        monday + timedelta(days=2),
    ]
    # Twelve missed 5-minute occurrences: the latest stands for them all.
    assert schedule.due_occurrences(frequent, now, last_run=now - timedelta(hours=2)) == [now]


async def test_catch_up_runs_once_after_the_bot_takes_updates_with_telegram_far_away(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    """The start-up catch-up waits for nothing to be "on time": with every Bot API call taking
    0.3-0.5 s, start-up takes seconds, and the missed occurrence still runs, once."""
    sandbox.latency = (0.3, 0.5)
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=SCHOOL_TZ))  # 08:30 was missed
    seen: list[tuple[datetime, bool]] = []
    lifecycles: list[Lifecycle] = []

    async def body(run: JobRun) -> None:
        updater = lifecycles[0].application.updater
        seen.append((run.occurrence, updater is not None and updater.running))

    def only_this(_services: Services) -> list[ScheduledJob]:
        return [ScheduledJob("test.morning", "a test job", MORNING, body, timedelta(hours=3))]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(features, "job_sources", lambda: (only_this,))
        for _start in range(2):
            application = build_application(services_for_sandbox(services, sandbox))
            lifecycle = Lifecycle(application)
            lifecycles[:] = [lifecycle]
            try:
                await lifecycle.start(polling(timeout=1))
                ran = await lifecycle.caught_up()
            finally:
                await lifecycle.stop()
            assert ran == (["test.morning"] if _start == 0 else [])
    # It ran once, for 08:30, while the bot was already taking updates.
    assert seen == [(datetime(2026, 11, 24, 8, 30, tzinfo=SCHOOL_TZ), True)]
