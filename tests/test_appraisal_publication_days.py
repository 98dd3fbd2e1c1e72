"""When the appraisal goes out: `houqin jobs list` shows the day it really publishes, and a
new install publishes nothing for the months before anyone was appraised."""

from __future__ import annotations

from datetime import datetime

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from scheduler import appraisal as publishing
from scheduler.jobs import all_jobs, next_run, run_due
from school.clock import ManualClock
from storage import appraisal
from storage.models import Role
from tests.conftest import SCHOOL_TZ
from tests.helpers import register


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SCHOOL_TZ)


def _job(services: Services, name: str) -> publishing.ScheduledJob:
    return next(job for job in all_jobs(services) if job.name == name)


def test_the_next_run_is_the_publication_day_not_the_first_firing(services: Services) -> None:
    # 1 November 2026 is a Sunday: the profile publishes on the next working day.
    monthly = _job(services, publishing.MONTHLY)
    assert next_run(monthly, at(2026, 10, 20)) == at(2026, 11, 2)
    assert next_run(monthly, at(2026, 11, 2, 10)) == at(2026, 12, 1)  # Tuesday 1 December
    # 10 January 2027 is a Sunday too; the quarter's 5 January is a Tuesday.
    assert next_run(_job(services, publishing.YEARLY), at(2026, 12, 1)) == at(2027, 1, 11)
    assert next_run(_job(services, publishing.QUARTERLY), at(2026, 12, 1)) == at(2027, 1, 5)


async def test_a_new_install_publishes_nothing_for_months_nobody_was_appraised_in(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(at(2026, 10, 1, 8))  # the school starts on 1 October, a working Thursday
    async with running_bot(services, sandbox) as application:
        director = await register(sandbox, services, "张主任", Role.DIRECTOR)
        staff = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
        group = sandbox.add_group("后勤群", members=[director, staff])
        await sandbox.add_bot_to_group(group, by=director)
        await director.send("/bind staff", chat=group)
        clock.set(at(2026, 10, 1, 9, 30))
        assert await run_due(application, names=[publishing.MONTHLY]) == [publishing.MONTHLY]
        await sandbox.settle()
        posted = [m.shown_text for m in sandbox.messages(group.id, from_bot=True)]
        assert not any("考评" in text for text in posted), posted
        async with services.database.reading() as session:
            assert await appraisal.latest_snapshot(session, "2026-09") is None
        # The director asking for September by hand is told why nothing goes out.
        await director.send("/appraisal publish 2026-09")
        assert "没有人参加考评" in sandbox.last_message(director.id).shown_text
