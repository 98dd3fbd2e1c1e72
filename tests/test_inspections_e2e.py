"""End to end: inspection rounds through the real bot and the sandbox, time moved by the test.

Assertions look at language-neutral content (checklist texts, names, ticket numbers) and
buttons are pressed by their callback data, so the tests hold in Chinese and in English.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import jobs as schedule
from school.clock import ManualClock
from storage import inspection_results as results
from storage import inspections as store
from storage.models import (
    InspectionAssignment,
    InspectionMark,
    InspectionRound,
    Notification,
    Role,
    Ticket,
    TicketPhoto,
    TicketStatus,
)
from storage.stats import Month
from tests.conftest import SCHOOL_TZ
from tests.helpers import person_of, register

WEEKLY = "inspections.open.weekly"
MONTHLY = "inspections.open.monthly"
CHECK = "inspections.check"
FRIDAY_1500 = datetime(2026, 11, 27, 15, 0, tzinfo=SCHOOL_TZ)
WEEKLY_ITEMS = ["人走灯灭", "空调夏季", "电脑、投影", "门窗玻璃", "无裸露电线", "水龙头", "冲水阀"]


@pytest.fixture(autouse=True)
def no_rejected_requests(sandbox: BotApiSandbox) -> Iterator[None]:
    """Like the `bot` fixture: the bot must send nothing the Bot API rejects."""
    yield
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


@dataclass
class Crew:
    director: SandboxUser
    plumber: SandboxUser
    fixer: SandboxUser
    staff_group: SandboxGroup
    repair_group: SandboxGroup


async def crew(sandbox: BotApiSandbox, services: Services) -> Crew:
    """A director, a 水电工 and a 维修工, and the bound staff group."""
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    fixer = await register(sandbox, services, "赵师傅", Role.STAFF, "repair")
    group = sandbox.add_group("后勤群", members=[director, plumber, fixer])
    await sandbox.add_bot_to_group(group, by=director)
    await director.send("/bind staff", chat=group)
    repair = sandbox.add_group("维修群", members=[director, plumber, fixer])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    return Crew(director, plumber, fixer, group, repair)


def by_data(message: SentMessage, prefix: str) -> str:
    """The visible text of the button whose callback data starts with `prefix`."""
    for row in message.inline_keyboard:
        for b in row:
            if str(b.get("callback_data", "")).startswith(prefix):
                return str(b["text"])
    raise LookupError(f"no button {prefix!r} on: {message.shown_text!r} {message.buttons}")


async def press(
    sandbox: BotApiSandbox, user: SandboxUser, message: SentMessage, prefix: str
) -> CallbackAnswer | None:
    """Press the button with this callback-data prefix on the latest version of a message."""
    current = sandbox._messages.get((message.chat_id, message.message_id), message)
    return await user.press(current, by_data(current, prefix))


def last(sandbox: BotApiSandbox, user: SandboxUser) -> SentMessage:
    return sandbox.last_message(user.private_chat_id)


async def run(application: HouqinApp, *names: str) -> list[str]:
    return await schedule.run_due(application, names=list(names) if names else None)


async def rounds(services: Services) -> list[InspectionRound]:
    async with services.database.transaction() as session:
        return list((await session.exec(select(InspectionRound))).all())


async def open_weekly(sandbox: BotApiSandbox, application: HouqinApp, clock: ManualClock) -> int:
    clock.set(FRIDAY_1500)
    assert await run(application, WEEKLY) == [WEEKLY]
    await sandbox.settle()
    services = application.bot_data.services
    assert services is not None
    (round_,) = [r for r in await rounds(services) if r.plan_key == "weekly"]
    assert round_.id is not None
    return round_.id


async def walk_started(
    sandbox: BotApiSandbox, services: Services, application: HouqinApp, clock: ManualClock
) -> tuple[Crew, int]:
    """The crew registered, Friday's weekly round open, and 李师傅 walking it: (crew, round)."""
    team = await crew(sandbox, services)
    rid = await open_weekly(sandbox, application, clock)
    await press(sandbox, team.plumber, last(sandbox, team.plumber), f"ins2:start:{rid}:")
    return team, rid


async def mark_ok(sandbox: BotApiSandbox, user: SandboxUser, rid: int, item: str) -> None:
    await press(sandbox, user, last(sandbox, user), f"ins2:ok:{rid}:{item}")


async def test_weekly_round_opens_on_schedule_not_on_a_holiday(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        clock.set(FRIDAY_1500 - timedelta(minutes=1))
        assert await run(application, WEEKLY) == []  # Friday's occurrence is still ahead
        rid = await open_weekly(sandbox, application, clock)
        group_text = sandbox.last_message(team.staff_group.id).shown_text
        assert "每周小查" in group_text and "李师傅" in group_text and "赵师傅" in group_text
        for inspector in (team.plumber, team.fixer):
            opening = last(sandbox, inspector)
            assert "每周小查" in opening.shown_text
            by_data(opening, f"ins2:start:{rid}:")
        assert "每周小查" not in last(sandbox, team.director).shown_text
        clock.advance(timedelta(minutes=20))
        assert await run(application, WEEKLY) == []  # the same occurrence never opens twice

        clock.set(datetime(2027, 1, 1, 15, 0, tzinfo=SCHOOL_TZ))  # 元旦, a Friday
        assert await run(application, WEEKLY) == [WEEKLY]
        assert len(await rounds(services)) == 1
        clock.set(datetime(2026, 12, 4, 15, 0, tzinfo=SCHOOL_TZ))  # an ordinary Friday
        assert await run(application, WEEKLY) == [WEEKLY]
        assert len(await rounds(services)) == 2


async def test_full_walk_with_a_problem_photo_and_ticket_then_recheck(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber
        clock.advance(timedelta(minutes=30))
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        first = last(sandbox, plumber)
        assert "1/7" in first.shown_text and WEEKLY_ITEMS[0] in first.shown_text
        await mark_ok(sandbox, plumber, rid, "lights_off")
        assert WEEKLY_ITEMS[1] in last(sandbox, plumber).shown_text
        # 本区域全部正常: items 2-5 of 教室/办公室 at once
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:area:{rid}:ac_temperature")
        item6 = last(sandbox, plumber)
        assert WEEKLY_ITEMS[5] in item6.shown_text and "6/7" in item6.shown_text
        await press(sandbox, plumber, item6, f"ins2:bad:{rid}:taps")
        await plumber.send_sticker()  # not a description
        await plumber.send("x" * 600)  # too long: refused, nothing saved
        await plumber.send("二楼男厕水龙头一直滴水")
        await plumber.send("no photo, just text")  # a photo (or skip) is expected
        await plumber.send_photo()
        place_prompt = last(sandbox, plumber)
        by_data(place_prompt, f"ins2:pl:{rid}:teaching")
        async with services.database.transaction() as session:
            assert (await session.exec(select(InspectionMark))).all().__len__() == 5
        await plumber.send("教学楼2楼男厕")
        async with services.database.transaction() as session:
            mark = (
                await session.exec(select(InspectionMark).where(InspectionMark.item_key == "taps"))
            ).one()
            ticket = await session.get(Ticket, mark.ticket_id)
            assert ticket is not None
            photos = (
                await session.exec(select(TicketPhoto).where(TicketPhoto.ticket_id == ticket.id))
            ).all()
        assert not mark.ok and mark.note == "二楼男厕水龙头一直滴水"
        assert mark.place_detail == "教学楼2楼男厕" and mark.photo_file_id
        assert ticket.source == "inspection" and ticket.category_key == "plumbing"
        assert ticket.building_key == "teaching" and ticket.floor == "2楼"
        assert [p.file_id for p in photos] == [mark.photo_file_id]
        repair_texts = [m.shown_text for m in sandbox.messages(team.repair_group.id, from_bot=True)]
        assert any(ticket.number in text for text in repair_texts)  # the ticket's card
        item7 = last(sandbox, plumber)
        assert ticket.number in item7.shown_text and WEEKLY_ITEMS[6] in item7.shown_text

        await mark_ok(sandbox, plumber, rid, "flush_pipes")
        assert "7" in last(sandbox, plumber).shown_text
        report = sandbox.last_message(team.staff_group.id).shown_text
        assert "每周小查" in report and ticket.number in report and "教学楼2楼男厕" in report
        assert "6" in report and "1" in report and "李师傅" in report
        async with services.database.transaction() as session:
            done = await store.get_round(session, rid)
            assert done is not None and done.status == store.COMPLETED
            assert done.announced_at is not None
            stats = await store.month_stats(session, Month(2026, 11), services.profile)
        assert stats[(await person_of(services, plumber)).id or 0].on_time == 1
        idle = stats[(await person_of(services, team.fixer)).id or 0]  # marked nothing
        assert (idle.assigned, idle.on_time, idle.unmarked) == (1, 0, 1)

        # The ticket is closed: the item shows 已整改 and next week's 复查 sees it.
        async with services.database.transaction() as session:
            ticket.status = TicketStatus.CLOSED
            session.add(ticket)
        await team.director.send("/inspections")
        listing = last(sandbox, team.director)
        assert "每周小查" in listing.shown_text
        await press(sandbox, team.director, listing, f"insr1:{rid}")
        detail = last(sandbox, team.director).shown_text
        assert ticket.number in detail and "✅" in detail and "❌" in detail
        async with services.database.transaction() as session:
            summary = await results.summary(session, services.profile, done)
        assert summary.problems[0].state == "fixed"

        clock.set(FRIDAY_1500 + timedelta(days=7))
        assert await run(application, WEEKLY) == [WEEKLY]
        await sandbox.settle()
        next_round = max(r.id or 0 for r in await rounds(services))
        await press(sandbox, team.fixer, last(sandbox, team.fixer), f"ins2:start:{next_round}:")
        texts = [m.shown_text for m in sandbox.messages(team.fixer.private_chat_id)[-2:]]
        assert "水龙头" in texts[0] and ticket.number in texts[0]  # 复查 at the start
        assert "1/7" in texts[1]

        # The trend shows how often 水龙头 failed per month.
        await team.director.send("/inspections")
        await press(sandbox, team.director, last(sandbox, team.director), "inst1:")
        trend_text = last(sandbox, team.director).shown_text
        assert "水龙头" in trend_text and "2026-11: 1/1" in trend_text


async def test_pause_and_resume_across_a_restart(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team, rid = await walk_started(sandbox, services, application, clock)
        plumber = team.plumber
        await mark_ok(sandbox, plumber, rid, "lights_off")
        await mark_ok(sandbox, plumber, rid, "ac_temperature")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:pause:{rid}:")
        paused = last(sandbox, plumber)
        assert "2/7" in paused.shown_text

    async with running_bot(services, sandbox):
        await press(sandbox, plumber, paused, f"ins2:start:{rid}:")
        resumed = last(sandbox, plumber)
        assert "3/7" in resumed.shown_text and WEEKLY_ITEMS[2] in resumed.shown_text
        await press(sandbox, plumber, resumed, f"ins2:bad:{rid}:devices_off")
        await plumber.send("投影仪没关")

    async with running_bot(services, sandbox):  # a restart in the middle of the 异常 form
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:skip:{rid}:")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:pl:{rid}:lab")
        assert WEEKLY_ITEMS[3] in last(sandbox, plumber).shown_text
        async with services.database.transaction() as session:
            mark = (
                await session.exec(
                    select(InspectionMark).where(InspectionMark.item_key == "devices_off")
                )
            ).one()
        assert mark.note == "投影仪没关" and "实验楼" in (mark.place_detail or "")
        assert mark.photo_file_id is None and mark.ticket_id is not None
        # /inspections offers to continue the unfinished round
        await plumber.send("/inspections")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        assert "4/7" in last(sandbox, plumber).shown_text


async def test_joint_round_with_two_inspectors(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        guard = await register(sandbox, services, "周师傅", Role.STAFF, "guard")
        teacher = await register(sandbox, services, "王芳", Role.TEACHER)
        clock.set(datetime(2026, 11, 26, 14, 0, tzinfo=SCHOOL_TZ))  # the last Thursday
        assert await run(application, MONTHLY) == [MONTHLY]
        await sandbox.settle()
        (round_,) = await rounds(services)
        rid = round_.id
        assert rid is not None
        async with services.database.transaction() as session:
            inspectors = {p.name for p in await store.inspectors_of(session, rid)}
        assert inspectors == {"张主任", "李师傅", "赵师傅", "周师傅"}
        director, plumber = team.director, team.plumber
        await press(sandbox, director, last(sandbox, director), f"ins2:start:{rid}:")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        director_item = last(sandbox, director)
        plumber_item = last(sandbox, plumber)
        await press(sandbox, director, director_item, f"ins2:ok:{rid}:lights_off")
        answer = await press(sandbox, plumber, plumber_item, f"ins2:ok:{rid}:lights_off")
        assert answer is not None and answer.text  # marked already by the director
        assert "张主任" in last(sandbox, plumber).shown_text
        # They share the rest: area by area, each from their own chat.
        walkers = [plumber, director]
        for turn in range(20):
            user = walkers[turn % 2]
            message = last(sandbox, user)
            if not message.inline_keyboard:
                break
            try:
                await press(sandbox, user, message, f"ins2:area:{rid}:")
            except LookupError:
                await press(sandbox, user, message, f"ins2:ok:{rid}:")
        async with services.database.transaction() as session:
            done = await store.get_round(session, rid)
            marks = await store.marks_of(session, rid)
            assignments = await store.assignments_of(session, rid)
        assert done is not None and done.status == store.COMPLETED and len(marks) == 17
        ids = {(await person_of(services, u)).id for u in (director, plumber)}
        assert {m.marked_by_id for m in marks} == ids
        finished = {a.person_id for a in assignments if a.finished_at is not None}
        assert finished == ids  # a joint round: those who took part
        report = sandbox.last_message(team.staff_group.id).shown_text
        assert "每月联查" in report and "17/17" in report

        await teacher.send("/inspections")
        assert "每月联查" not in last(sandbox, teacher).shown_text
        guard_message = last(sandbox, guard)  # the opening says when the round completed
        assert "11-26 14:00" in guard_message.shown_text and not guard_message.inline_keyboard
        clock.set(datetime(2026, 11, 26, 18, 0, tzinfo=SCHOOL_TZ))
        await run(application, CHECK)
        async with services.database.transaction() as session:
            stats = await store.month_stats(session, Month(2026, 11), services.profile)
        guard_id = (await person_of(services, guard)).id or 0
        assert stats[guard_id].missed == 1 and stats[guard_id].assigned == 1


async def test_reminder_summary_and_missed_round_report(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team, rid = await walk_started(sandbox, services, application, clock)
        plumber = team.plumber
        await mark_ok(sandbox, plumber, rid, "lights_off")
        clock.set(FRIDAY_1500.replace(hour=16, minute=50))
        await run(application, CHECK)
        await sandbox.settle()
        assert "1/7" not in last(sandbox, team.fixer).shown_text  # not yet: due at 17:00

        clock.set(FRIDAY_1500.replace(hour=17))
        assert await run(application, CHECK) == [CHECK]
        await sandbox.settle()
        for inspector in (plumber, team.fixer):
            reminder = last(sandbox, inspector)
            assert "18:00" in reminder.shown_text and "1/7" in reminder.shown_text
            by_data(reminder, f"ins2:start:{rid}:")
        clock.set(FRIDAY_1500.replace(hour=17, minute=10))
        mark = sandbox.mark()
        await run(application, CHECK)
        await sandbox.settle()
        assert sandbox.bot_messages_since(mark) == []  # reminded once

        clock.set(FRIDAY_1500.replace(hour=18))
        await run(application, CHECK)
        await sandbox.settle()
        report = sandbox.last_message(team.staff_group.id).shown_text
        assert "1/7" in report and WEEKLY_ITEMS[6] in report  # what was left unchecked
        missed = last(sandbox, team.director)
        assert "每周小查" in missed.shown_text and WEEKLY_ITEMS[6] in missed.shown_text
        assert "李师傅" in missed.shown_text
        clock.set(FRIDAY_1500.replace(hour=18, minute=10))
        mark = sandbox.mark()
        await run(application, CHECK)
        await sandbox.settle()
        assert sandbox.bot_messages_since(mark) == []  # reported once

        # Finished late: a short follow-up, and the month's figures say "late".
        await press(sandbox, plumber, missed_or_reminder(sandbox, plumber), f"ins2:start:{rid}:")
        for _ in range(6):
            message = last(sandbox, plumber)
            await press(sandbox, plumber, message, f"ins2:ok:{rid}:")
        follow_up = sandbox.last_message(team.staff_group.id).shown_text
        assert "每周小查" in follow_up and follow_up != report
        async with services.database.transaction() as session:
            stats = await store.month_stats(session, Month(2026, 11), services.profile)
            notes = (
                await session.exec(
                    select(Notification.key).where(col(Notification.key).like(f"inspection:{rid}%"))
                )
            ).all()
        assert stats[(await person_of(services, plumber)).id or 0].late == 1
        assert len(notes) == len(set(notes))


def missed_or_reminder(sandbox: BotApiSandbox, user: SandboxUser) -> SentMessage:
    """The latest message of the user that has a 继续检查 button."""
    for message in reversed(sandbox.messages(user.private_chat_id, from_bot=True)):
        current = sandbox._messages.get((message.chat_id, message.message_id), message)
        if any(
            "ins2:start:" in str(b.get("callback_data")) for r in current.inline_keyboard for b in r
        ):
            return current
    raise LookupError("no continue button")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_missed_schedule_is_caught_up_exactly_once(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
    # The bot is down at Friday 15:00 and comes back at 16:30.
    clock.set(FRIDAY_1500.replace(hour=16, minute=30))
    async with running_bot(services, sandbox) as application:
        assert WEEKLY in await run(application)
        await sandbox.settle()
        assert "每周小查" in last(sandbox, team.plumber).shown_text
        assert await run(application, WEEKLY) == []
    async with running_bot(services, sandbox) as application:  # another restart
        assert await run(application, WEEKLY) == []
    (round_,) = await rounds(services)
    assert round_.occurrence == FRIDAY_1500
    async with services.database.transaction() as session:
        assigned = (await session.exec(select(InspectionAssignment))).all()
    assert len(assigned) == 2
    opening_messages = [
        m
        for m in sandbox.messages(team.plumber.private_chat_id, from_bot=True)
        if "每周小查" in m.shown_text
    ]
    assert len(opening_messages) == 1
    # Past the round's deadline a missed opening is not caught up any more.
    clock.set(FRIDAY_1500 + timedelta(days=7, hours=3, minutes=30))
    async with running_bot(services, sandbox) as application:
        assert WEEKLY not in await run(application, WEEKLY)
    assert len(await rounds(services)) == 1
