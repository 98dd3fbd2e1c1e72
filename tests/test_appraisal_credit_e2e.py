"""End to end: what counts for the appraisal, seen in /myscore after the work was done through
the real bot. A job sent back (返修) and finished again is one job with one defect; an
inspection round credits those who marked its items, not everyone it was assigned to."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from handlers import ticket_presses as ticket_handlers
from handlers.context import HouqinApp
from notices.appraisal import inputs_text
from notices.services import Services
from school.clock import ManualClock
from school.i18n import translator
from school.profile import SchoolProfile
from school.settings import Language, Settings
from storage import tickets
from storage.appraisal import Component
from storage.database import Database
from storage.models import Role, Ticket
from tests.helpers import private_text, register
from tests.test_inspections_e2e import FRIDAY_1500, crew, last, open_weekly, press


@pytest.fixture
def services(database: Database, clock: ManualClock, profile: SchoolProfile) -> Services:
    """English throughout, so the assertions hold before and after the catalogs are merged."""
    settings = Settings(_env_file=None, database_url=database.url, language=Language.EN)
    return Services(settings=settings, profile=profile, database=database, clock=clock)


@pytest.fixture
async def application(services: Services, sandbox: BotApiSandbox) -> AsyncIterator[HouqinApp]:
    async with running_bot(services, sandbox) as running:
        yield running
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


def component_line(text: str, name: str) -> str:
    """The line of /myscore naming a component, and the formula line under it."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"• {name}:"))
    return "\n".join(lines[index : index + 2])


async def myscore(sandbox: BotApiSandbox, user: SandboxUser, period: str) -> str:
    await user.send(f"/myscore {period}")
    return private_text(sandbox, user)


async def _ticket(services: Services, number: str) -> Ticket:
    async with services.database.transaction() as session:
        ticket = await tickets.get_by_number(session, number)
    assert ticket is not None, number
    return ticket


async def test_a_job_sent_back_and_finished_again_is_one_job_with_one_defect(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock, application: HouqinApp
) -> None:
    ticket_handlers.forget_member_cache()
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    teacher = await register(sandbox, services, "王芳", Role.TEACHER)
    repair = sandbox.add_group("维修群", members=[director, plumber])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    teachers = sandbox.add_group("教师群", members=[director, teacher])
    await sandbox.add_bot_to_group(teachers, by=director)
    await director.send("/bind teachers", chat=teachers)

    await teacher.send("/report 实验楼3楼女厕水龙头一直滴水", chat=teachers)
    match = re.search(r"BX-\d{4}-\d{3}", sandbox.last_message(teachers.id).shown_text)
    assert match is not None
    ticket = await _ticket(services, match.group(0))

    def card() -> object:
        return next(
            m
            for m in sandbox.messages(repair.id, from_bot=True)
            if m.message_id == ticket.group_message_id
        )

    await plumber.press(card(), "Take")  # type: ignore[arg-type]
    clock.advance(timedelta(hours=1))
    await plumber.press(card(), "Repair done")  # type: ignore[arg-type]
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "Fixed")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "Skip")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "⏭ Skip materials and hours")
    # Before the 返修: one job, on time, never sent back.
    first = component_line(await myscore(sandbox, plumber, "2026-11"), "Repair quality")
    assert "Repair quality: 100.0 points" in first

    clock.advance(timedelta(hours=1))
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "Rework")
    await teacher.send("还是在滴水")
    sent_back = component_line(await myscore(sandbox, plumber, "2026-11"), "Repair quality")
    assert "Repair quality: 70.0 points" in sent_back  # 0.7 × 1 + 0.3 × (1 − 1)

    clock.advance(timedelta(hours=1))
    await plumber.press(card(), "Repair done")  # type: ignore[arg-type]
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "Replaced")
    await plumber.send("换了新龙头")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "⏭ Skip materials and hours")
    # Finished again: still one job, and its 返修 still counts (not "2/2 jobs, 1 of 2").
    again = component_line(await myscore(sandbox, plumber, "2026-11"), "Repair quality")
    assert "Repair quality: 70.0 points" in again, again
    assert "1/1 jobs finished in time" in again and "1 sent back ÷ 1 jobs" in again

    # Sent back a second time: it costs as much as the first did.
    clock.advance(timedelta(hours=1))
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "Rework")
    await teacher.send("又漏了")
    clock.advance(timedelta(hours=1))
    await plumber.press(card(), "Repair done")  # type: ignore[arg-type]
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "Fixed")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "Skip")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "⏭ Skip materials and hours")
    twice = component_line(await myscore(sandbox, plumber, "2026-11"), "Repair quality")
    assert "Repair quality: 40.0 points" in twice, twice  # 0.7 + 0.3 × (1 − 2)
    assert "2 sent back ÷ 1 jobs" in twice


async def test_inspection_credit_follows_who_marked_the_items(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock, application: HouqinApp
) -> None:
    team = await crew(sandbox, services)
    rid = await open_weekly(sandbox, application, clock)
    assert clock.now() == FRIDAY_1500
    walker, idle = team.plumber, team.fixer  # both are the round's inspectors
    clock.advance(timedelta(minutes=30))
    await press(sandbox, walker, last(sandbox, walker), f"ins2:start:{rid}:")
    await press(sandbox, walker, last(sandbox, walker), f"ins2:area:{rid}:lights_off")
    await press(sandbox, walker, last(sandbox, walker), f"ins2:area:{rid}:taps")
    assert "7" in last(sandbox, walker).shown_text  # all seven checked: the round is complete

    walked = component_line(await myscore(sandbox, walker, "2026-11"), "Inspections done")
    assert "Inspections done: 100.0 points" in walked
    assert "(1 on time + 0 late × 0.5) ÷ 1 rounds" in walked
    assert "no credit" not in walked
    never_opened = component_line(await myscore(sandbox, idle, "2026-11"), "Inspections done")
    assert "Inspections done: 0.0 points" in never_opened, never_opened
    assert "(0 on time + 0 late × 0.5) ÷ 1 rounds" in never_opened
    assert "in 1 of them you marked no item (others walked it): no credit" in never_opened


def test_a_month_published_before_keeps_the_explanation_it_was_scored_by() -> None:
    """A snapshot frozen under the earlier rule (every 维修完成 a job, 返修 over jobs held) is
    explained by that rule; a new one by a job counted once."""
    en = translator("en")
    old = Component(
        "tickets", 30, 85.0, inputs={"finished": 2, "finished_on_time": 2, "taken": 1, "rework": 1}
    )
    assert inputs_text(old, en) == (
        "100 × (0.7 × 2/2 finished in time + 0.3 × (1 − 1 sent back/2 held))"
    )
    new = Component("tickets", 30, 70.0, inputs={"jobs": 1, "jobs_on_time": 1, "rework": 1})
    assert inputs_text(new, en) == (
        "100 × (0.7 × 1/1 jobs finished in time + 0.3 × (1 − 1 sent back ÷ 1 jobs)), at least 0"
    )
