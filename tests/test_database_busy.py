"""A locked database: the user is told the system is busy, nothing is half-saved, nothing says
"submitted" or "saved", the button or the step that failed is still there, and the same action
works once the lock is gone. Every form's final step is checked this way."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from devtools.harness import running_bot
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from storage import appraisal, people
from storage.models import InspectionMark, PostDuties, Role, Ticket
from storage.stats import Month
from tests.helpers import database_locked, impatient, private_text, said_busy
from tests.test_appraisal_e2e import School, at
from tests.test_inspections_e2e import crew, last, open_weekly, press
from tests.test_worklogs_e2e import english, stored_log

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def has_button(message: SentMessage, label: str) -> bool:
    return any(label in b for row in message.buttons for b in row)


async def test_locked_database_answers_busy_and_loses_nothing(
    services: Services, sandbox: BotApiSandbox
) -> None:
    services = impatient(services)
    async with services.database.transaction() as session:
        invite = await people.create_invite(session, role=Role.TEACHER, now=services.now())
    teacher = sandbox.add_user("王老师")
    async with running_bot(services, sandbox):
        with database_locked(services):
            await teacher.start_bot(invite.code)
            assert "系统繁忙" in sandbox.last_message(teacher.id).shown_text
        async with services.database.transaction() as session:
            assert await people.get_person_by_telegram_id(session, teacher.id) is None
        await teacher.start_bot(invite.code)
        assert "你已注册为" in sandbox.last_message(teacher.id).shown_text
    await services.database.dispose()


async def test_a_report_is_never_shown_submitted_before_it_is_filed(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """提交 while another writer holds the database: the person is told it is busy, the summary
    keeps its buttons (nothing says 已提交), and pressing 提交 again files the report once."""
    services = impatient(services)
    async with running_bot(services, sandbox):
        teacher = await english(sandbox, services, "王老师", Role.TEACHER)
        await teacher.send("/report")
        for label in ("水暖", "实验楼", "3楼", "女厕"):
            await teacher.press(sandbox.last_message(teacher.id), label)
        await teacher.send("水龙头一直滴水，关不紧")
        await teacher.press(sandbox.last_message(teacher.id), "Skip")
        await teacher.press(sandbox.last_message(teacher.id), "一般")
        summary = sandbox.last_message(teacher.id)
        with database_locked(services):
            answer = await teacher.press(summary, "Submit")
        assert said_busy(answer)
        assert "Submitted" not in summary.shown_text
        assert has_button(summary, "Submit"), summary.shown_text
        async with services.database.reading() as session:
            assert (await session.exec(select(Ticket))).all() == []
        await teacher.press(summary, "Submit")
        assert "Submitted" in summary.shown_text
        async with services.database.reading() as session:
            assert len((await session.exec(select(Ticket))).all()) == 1
    assert sandbox.rejected == []
    await services.database.dispose()


async def test_a_work_log_is_never_said_saved_before_it_is(
    services: Services, sandbox: BotApiSandbox
) -> None:
    services = impatient(services)
    async with running_bot(services, sandbox):
        cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
        await cleaner.send("/log")
        await cleaner.send("打扫教学楼一楼")
        form = sandbox.last_message(cleaner.id)
        mark = sandbox.mark()
        with database_locked(services):
            answer = await cleaner.press(form, "Save")
        assert said_busy(answer)
        assert not [m for m in sandbox.bot_messages_since(mark) if "saved" in m.shown_text]
        assert has_button(form, "Save")
        assert await stored_log(services, cleaner, date(2026, 11, 23)) is None
        await cleaner.press(form, "Save")
        assert "is saved" in private_text(sandbox, cleaner)
        assert await stored_log(services, cleaner, date(2026, 11, 23)) is not None
    assert sandbox.rejected == []
    await services.database.dispose()


async def test_post_duties_submitted_approved_and_returned_only_once_stored(
    services: Services, sandbox: BotApiSandbox
) -> None:
    services = impatient(services)
    async with running_bot(services, sandbox):
        director = await english(sandbox, services, "张主任", Role.DIRECTOR)
        cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")

        async def drafts() -> list[PostDuties]:
            async with services.database.reading() as session:
                return list((await session.exec(select(PostDuties))).all())

        # The staff member's draft: typed while the database is busy, then again.
        await cleaner.send("/duties")
        await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
        with database_locked(services):
            await cleaner.send("负责教学楼1-3楼保洁")
        assert said_busy(private_text(sandbox, cleaner))
        assert await drafts() == []
        await cleaner.send("负责教学楼1-3楼保洁")
        assert "Submitted" in private_text(sandbox, cleaner)
        [draft] = await drafts()

        # The director returns it: the comment typed while busy is not lost.
        request = sandbox.last_message(director.id)
        await director.press(request, "Return")
        with database_locked(services):
            await director.send("请写明负责的楼层")
        assert said_busy(private_text(sandbox, director))
        assert [d.status for d in await drafts()] == [draft.status]
        await director.send("请写明负责的楼层")
        assert "returned" in private_text(sandbox, director)
        assert "请写明负责的楼层" in private_text(sandbox, cleaner)

        # A second draft, approved while busy: the button stays and works afterwards.
        await cleaner.send("/duties")
        await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
        await cleaner.send("负责教学楼1-3楼楼道和卫生间保洁")
        request = sandbox.last_message(director.id)
        mark = sandbox.mark()
        with database_locked(services):
            answer = await director.press(request, "Approve")
        assert said_busy(answer)
        assert not [m for m in sandbox.bot_messages_since(mark) if "approved" in m.shown_text]
        assert has_button(request, "Approve")
        await director.press(request, "Approve")
        assert "approved" in private_text(sandbox, cleaner)
    assert sandbox.rejected == []
    await services.database.dispose()


async def test_inspection_marks_are_never_shown_before_they_are_stored(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    services = impatient(services)
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber

        async def marks() -> list[InspectionMark]:
            async with services.database.reading() as session:
                return list((await session.exec(select(InspectionMark))).all())

        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        walk = last(sandbox, plumber)
        before = walk.shown_text
        with database_locked(services):
            answer = await press(sandbox, plumber, walk, f"ins2:ok:{rid}:lights_off")
        assert said_busy(answer)
        assert walk.shown_text == before and await marks() == []
        await press(sandbox, plumber, walk, f"ins2:ok:{rid}:lights_off")
        assert len(await marks()) == 1

        # An 异常: its place pressed while busy keeps the place buttons; pressed again, it is
        # recorded once.
        await press(sandbox, plumber, walk, f"ins2:bad:{rid}:ac_temperature")
        await plumber.send("空调设定温度过低")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:skip:{rid}")
        place = last(sandbox, plumber)
        with database_locked(services):
            answer = await press(sandbox, plumber, place, f"ins2:pl:{rid}:")
        assert said_busy(answer)
        assert place.buttons, "the place buttons must stay for another try"
        assert len(await marks()) == 1
        await press(sandbox, plumber, place, f"ins2:pl:{rid}:")
        assert len(await marks()) == 2
        assert "空调设定温度过低" in {m.note for m in await marks()}

        # The place typed while busy: the step stays, the same text works afterwards.
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:bad:{rid}:devices_off")
        await plumber.send("投影仪没关")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:skip:{rid}")
        with database_locked(services):
            await plumber.send("教学楼3楼办公室")
        assert said_busy(private_text(sandbox, plumber))
        assert len(await marks()) == 2
        await plumber.send("教学楼3楼办公室")
        assert len(await marks()) == 3
    assert sandbox.rejected == []
    await services.database.dispose()


async def test_a_leaders_score_is_never_shown_saved_before_it_is(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    services = impatient(services)
    clock.set(at(2026, 11, 1, 8))
    school = School(sandbox, services)
    async with running_bot(services, sandbox):
        await school.cast()
        director = school.users["director"]

        async def scores() -> dict[int, float]:
            async with services.database.reading() as session:
                return await appraisal.leader_scores(session, Month(2026, 10))

        await director.send("/rate 2026-10")
        first = sandbox.last_message(director.private_chat_id)
        with database_locked(services):
            answer = await director.press(first, "95")
        assert said_busy(answer)
        assert first.buttons and "✅" not in first.shown_text
        assert await scores() == {}
        await director.press(first, "95")
        assert first.buttons == [] and await scores() == {school.ids["guard"]: 95}
        with database_locked(services):
            await director.send("92")
        assert said_busy(private_text(sandbox, director))
        await director.send("92")
        assert await scores() == {school.ids["guard"]: 95, school.ids["plumber"]: 92}
    assert sandbox.rejected == []
    await services.database.dispose()
