"""End to end: meeting and reception services (会务与接待) through the real bot and the
sandbox: request → approval → assignment → checklist → reminder → escalation → rating, a
taken venue refused with free slots and similar venues, a reception over the frugality rules
refused with the reason, a weekly series, and the work and rating in the work-log draft and
the appraisal. Time is moved by the test (Monday 23 November 2026, 09:00)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.cli_export import cmd_export_services
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import jobs as schedule
from school.clock import ManualClock
from storage import worklogs
from storage.appraisal import inputs
from storage.booking_models import Booking, BookingEvent, BookingStatus
from storage.models import Role
from storage.stats import Month
from tests.conftest import SCHOOL_TZ
from tests.helpers import person_of, register

CHECK = "bookings.check"


@pytest.fixture(autouse=True)
def no_rejected_requests(sandbox: BotApiSandbox) -> Iterator[None]:
    """Like the `bot` fixture: the bot must send nothing the Bot API rejects."""
    yield
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


@dataclass
class School:
    director: SandboxUser
    fixer: SandboxUser  # 维修工
    electrician: SandboxUser  # 水电工
    cleaner: SandboxUser  # 保洁员
    guard: SandboxUser  # 门卫
    teacher: SandboxUser
    staff_group: SandboxGroup


async def school(sandbox: BotApiSandbox, services: Services) -> School:
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    fixer = await register(sandbox, services, "赵师傅", Role.STAFF, "repair")
    electrician = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    cleaner = await register(sandbox, services, "王阿姨", Role.STAFF, "cleaner")
    guard = await register(sandbox, services, "孙师傅", Role.STAFF, "guard")
    teacher = await register(sandbox, services, "陈老师", Role.TEACHER)
    group = sandbox.add_group("后勤群", members=[director, fixer, electrician, cleaner, guard])
    await sandbox.add_bot_to_group(group, by=director)
    await director.send("/bind staff", chat=group)
    return School(director, fixer, electrician, cleaner, guard, teacher, group)


def last(sandbox: BotApiSandbox, user: SandboxUser) -> SentMessage:
    return sandbox.last_message(user.private_chat_id)


def texts(sandbox: BotApiSandbox, chat_id: int) -> list[str]:
    return [m.shown_text for m in sandbox.messages(chat_id, from_bot=True)]


def button_text(message: SentMessage, prefix: str) -> str:
    for row in message.inline_keyboard:
        for b in row:
            if str(b.get("callback_data", "")).startswith(prefix):
                return str(b["text"])
    raise LookupError(f"no button {prefix!r} on: {message.shown_text!r} {message.buttons}")


async def press(
    sandbox: BotApiSandbox, user: SandboxUser, message: SentMessage, prefix: str
) -> CallbackAnswer | None:
    current = sandbox._messages.get((message.chat_id, message.message_id), message)
    return await user.press(current, button_text(current, prefix))


async def choose(sandbox: BotApiSandbox, user: SandboxUser, prefix: str) -> None:
    """Press a button of the form's latest prompt."""
    await press(sandbox, user, last(sandbox, user), prefix)


async def bookings(services: Services) -> list[Booking]:
    async with services.database.reading() as session:
        return list((await session.exec(select(Booking).order_by(col(Booking.id)))).all())


async def run(application: HouqinApp) -> list[str]:
    return await schedule.run_due(application, names=[CHECK])


async def request_meeting(
    sandbox: BotApiSandbox,
    user: SandboxUser,
    *,
    title: str,
    people: str,
    day: str,
    hours: str,
    venue: str,
    weeks: str = "1",
) -> None:
    """Walk the /service form for a meeting up to the summary and submit it."""
    await user.send("/service")
    await choose(sandbox, user, "bkf1:k:meeting")
    await user.send(title)
    await user.send(people)
    await user.send(day)
    await user.send(hours)
    await choose(sandbox, user, f"bkf1:v:{venue}")
    await choose(sandbox, user, "bkf1:n:audio")
    await choose(sandbox, user, "bkf1:nd:")
    await choose(sandbox, user, "bkf1:c:")
    await choose(sandbox, user, "bkf1:sn:")
    await choose(sandbox, user, f"bkf1:w:{weeks}")
    assert "会议" in last(sandbox, user).shown_text
    await choose(sandbox, user, "bkf1:s:")


async def test_request_approval_assignment_checklist_reminders_and_rating(
    services: Services,
    sandbox: BotApiSandbox,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    async with running_bot(services, sandbox) as application:
        s = await school(sandbox, services)
        teacher = s.teacher
        await teacher.send("/service")
        await choose(sandbox, teacher, "bkf1:k:meeting")
        prompt = last(sandbox, teacher).shown_text
        await teacher.send_sticker()  # not a subject: told what the step wants
        assert last(sandbox, teacher).shown_text != prompt
        await teacher.send("初三家长会")
        await teacher.send("120")
        # a 大型会议 needs 3 working days: Tuesday is refused with the first day allowed
        await teacher.send("11-24")
        refusal = last(sandbox, teacher).shown_text
        assert "3" in refusal and "11-26" in refusal
        button_text(last(sandbox, teacher), "bkf1:d:2026-11-26")
        await choose(sandbox, teacher, "bkf1:d:2026-11-26")
        await teacher.send("14:00-16:00")
        venues = last(sandbox, teacher)
        with pytest.raises(LookupError):  # 30 seats: not offered for 120
            button_text(venues, "bkf1:v:office_meeting")
        await choose(sandbox, teacher, "bkf1:v:lecture_hall")
        await choose(sandbox, teacher, "bkf1:n:audio")
        assert "✅" in button_text(last(sandbox, teacher), "bkf1:n:audio")
        await choose(sandbox, teacher, "bkf1:n:screen")
        await choose(sandbox, teacher, "bkf1:nd:")
        await teacher.send("陈老师 13800001111")
        await choose(sandbox, teacher, "bkf1:sn:")
        await choose(sandbox, teacher, "bkf1:w:1")
        summary = last(sandbox, teacher).shown_text
        assert "初三家长会" in summary and "教学楼五楼阶梯教室" in summary and "大型会议" in summary
        await choose(sandbox, teacher, "bkf1:s:")

        (booking,) = await bookings(services)
        assert booking.status == BookingStatus.PENDING and booking.people == 120
        assert booking.needs == ["audio", "screen"] and booking.contact == "陈老师 13800001111"
        assert booking.number in last(sandbox, teacher).shown_text
        ask = last(sandbox, s.director)
        assert booking.number in ask.shown_text and "初三家长会" in ask.shown_text
        assert not any(booking.number in t for t in texts(sandbox, s.staff_group.id))

        # a staff member cannot approve
        answer = await press(sandbox, s.fixer, ask, f"bk1:ok:{booking.id}")
        assert answer is not None and answer.show_alert
        await press(sandbox, s.director, ask, f"bk1:ok:{booking.id}")
        assert "张主任" in last(sandbox, s.director).shown_text
        assert booking.number in texts(sandbox, s.staff_group.id)[-1]
        assert booking.number in last(sandbox, teacher).shown_text
        tasks = {}
        for worker in (s.fixer, s.electrician, s.cleaner, s.guard):
            tasks[worker.name] = last(sandbox, worker)
            button_text(tasks[worker.name], f"bks1:{booking.id}:setup")

        # a teacher cannot tick; 赵师傅 ticks two steps and the teacher sees the progress
        answer = await press(sandbox, teacher, tasks["赵师傅"], f"bks1:{booking.id}:setup")
        assert answer is not None and answer.show_alert
        await press(sandbox, s.fixer, tasks["赵师傅"], f"bks1:{booking.id}:notice")
        await press(sandbox, s.fixer, tasks["赵师傅"], f"bks1:{booking.id}:setup")
        assert "2/10" in last(sandbox, teacher).shown_text
        assert "2/10" in texts(sandbox, s.staff_group.id)[-1]  # the group card follows
        # a photo of the set-up room reaches the teacher
        await press(sandbox, s.fixer, tasks["赵师傅"], f"bk1:ph:{booking.id}")
        await s.fixer.send("no photo")
        await s.fixer.send_photo()
        assert last(sandbox, teacher).photo is not None

        # 24 hours before: the staff are reminded once, even when the check runs twice
        clock.set(datetime(2026, 11, 25, 14, 5, tzinfo=SCHOOL_TZ))
        assert await run(application) == [CHECK]
        reminder = last(sandbox, s.electrician)
        assert "⏰" in reminder.shown_text and booking.number in reminder.shown_text
        button_text(reminder, f"bks1:{booking.id}:av")
        count = len(texts(sandbox, s.electrician.private_chat_id))
        clock.advance(timedelta(minutes=5))
        await run(application)
        assert len(texts(sandbox, s.electrician.private_chat_id)) == count

        # 1 hour before, still open: the director hears once
        clock.set(datetime(2026, 11, 26, 13, 5, tzinfo=SCHOOL_TZ))
        await run(application)
        assert "⚠️" in last(sandbox, s.director).shown_text
        directors = len(texts(sandbox, s.director.private_chat_id))
        clock.advance(timedelta(minutes=5))
        await run(application)
        assert len(texts(sandbox, s.director.private_chat_id)) == directors

        # the rest of the checklist, from the reminder
        for step in ("av", "banner", "nameplates", "signin", "tea", "support", "guide", "cleanup"):
            await press(sandbox, s.electrician, reminder, f"bks1:{booking.id}:{step}")
        (booking,) = await bookings(services)
        assert booking.status == BookingStatus.READY
        assert any("10/10" in t for t in texts(sandbox, teacher.private_chat_id))

        # after the end: the teacher confirms and rates
        clock.set(datetime(2026, 11, 26, 16, 5, tzinfo=SCHOOL_TZ))
        await run(application)
        rate = last(sandbox, teacher)
        await press(sandbox, teacher, rate, f"bkr1:{booking.id}:5")
        await teacher.send("布置得很好，谢谢！")
        (booking,) = await bookings(services)
        assert booking.status == BookingStatus.CLOSED and booking.rating == 5
        assert booking.rating_comment == "布置得很好，谢谢！"
        assert "★★★★★" in last(sandbox, s.electrician).shown_text

        async with services.database.reading() as session:
            events = (
                await session.exec(
                    select(BookingEvent.action).where(BookingEvent.booking_id == booking.id)
                )
            ).all()
        assert events[0] == "request" and "approve" in events and events[-1] == "rate"

        # the work is in the work-log drafts of those who did it, the rating in their appraisal
        fixer = await person_of(services, s.fixer)
        electrician = await person_of(services, s.electrician)
        cleaner = await person_of(services, s.cleaner)
        assert fixer.id and electrician.id and cleaner.id
        async with services.database.reading() as session:
            monday = await worklogs.day_activity(
                session, fixer.id, datetime(2026, 11, 23).date(), SCHOOL_TZ
            )
            thursday = await worklogs.day_activity(
                session, electrician.id, datetime(2026, 11, 26).date(), SCHOOL_TZ
            )
            month, _ = await inputs.compute_month(
                session, Month(2026, 11), services.profile, today=clock.now().date()
            )
        assert [worklogs.fact_item(f)["service"] for f in monday] == [booking.number]
        assert [worklogs.fact_item(f)["service"] for f in thursday] == [booking.number]
        assert month.tickets[fixer.id].ratings == (5,)
        assert month.tickets[electrician.id].ratings == (5,)
        assert cleaner.id not in month.tickets  # ticked nothing: the rating is not theirs
        await s.fixer.send("/log 11-23")
        assert booking.number in last(sandbox, s.fixer).shown_text

        # the same ledger in the chat: /export services 2026-11 (the director only)
        await s.fixer.send("/export services 2026-11")
        assert "只有后勤主任" in last(sandbox, s.fixer).shown_text
        await s.director.send("/export services 2026-11")
        document = last(sandbox, s.director)
        assert document.kind == "document" and document.document_bytes is not None
        assert "共 1 项" in document.shown_text
        sheet = load_workbook(BytesIO(document.document_bytes)).worksheets[0]
        assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [booking.number]

    # the month's ledger on the command line: who did it, the rating
    if services.database.dialect == "sqlite":
        monkeypatch.setenv("HOUQIN_DATABASE_URL", services.database.url)
        out = tmp_path / "services.xlsx"
        args = argparse.Namespace(period="2026-11", out=str(out))
        assert await asyncio.to_thread(cmd_export_services, args) == 0
        rows = list(load_workbook(out).worksheets[0].iter_rows(values_only=True))
        assert len(rows) == 2 and rows[1][0] == booking.number and rows[1][3] == "初三家长会"
        assert rows[1][7] == "教学楼五楼阶梯教室" and rows[1][13] == "10/10"
        assert str(rows[1][14]).split("、") == ["赵师傅", "李师傅"] and rows[1][15] == 5


async def test_taken_venue_is_refused_with_free_slots_and_similar_venues(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        s = await school(sandbox, services)
        await request_meeting(
            sandbox,
            s.teacher,
            title="行政会",
            people="12",
            day="11-25",
            hours="14:00-16:00",
            venue="office_meeting",
        )
        (first,) = await bookings(services)
        assert first.status == BookingStatus.ASSIGNED  # 小型会议: no approval
        other = s.director
        await other.send("/service")
        await choose(sandbox, other, "bkf1:k:meeting")
        await other.send("教研组会")
        await other.send("15")
        await other.send("11-25")
        await other.send("15:00-16:30")
        await choose(sandbox, other, "bkf1:v:office_meeting")
        refusal = last(sandbox, other)
        assert first.number in refusal.shown_text
        assert "07:30–14:00" in refusal.shown_text and "16:00–21:30" in refusal.shown_text
        assert "东区教学楼会议室" in refusal.shown_text
        await press(sandbox, other, refusal, "bkf1:v:east_meeting")
        for prefix in ("bkf1:nd:", "bkf1:c:", "bkf1:sn:", "bkf1:w:1", "bkf1:s:"):
            await choose(sandbox, other, prefix)
        found = await bookings(services)
        assert [b.venue_key for b in found] == ["office_meeting", "east_meeting"]
        # /meetings shows this week's bookings by venue
        await s.teacher.send("/meetings")
        view = last(sandbox, s.teacher).shown_text
        assert "行政楼三楼会议室" in view and "东区教学楼会议室" in view and "教研组会" in view
        # the responsible staff open a booking's checklist from /meetings
        await s.fixer.send("/meetings")
        await press(sandbox, s.fixer, last(sandbox, s.fixer), f"bk1:cl:{first.id}")
        button_text(last(sandbox, s.fixer), f"bks1:{first.id}:setup")
        with pytest.raises(LookupError):  # a teacher has nothing to tick
            button_text(last(sandbox, s.teacher), "bk1:cl:")
        # the teacher withdraws: the venue is free again and the staff group hears of it
        confirmation = next(
            m
            for m in sandbox.messages(s.teacher.private_chat_id, from_bot=True)
            if first.number in m.shown_text and m.inline_keyboard
        )
        answer = await press(sandbox, s.fixer, confirmation, f"bk1:cx:{first.id}")
        assert answer is not None and answer.show_alert  # only the requester
        await press(sandbox, s.teacher, confirmation, f"bk1:cx:{first.id}")
        assert first.number in last(sandbox, s.teacher).shown_text
        assert "陈老师" in texts(sandbox, s.staff_group.id)[-1]
        found = await bookings(services)
        assert found[0].status == BookingStatus.CANCELLED
        await s.teacher.send("/meetings")
        assert "行政会" not in last(sandbox, s.teacher).shown_text


async def test_reception_over_the_frugality_rules_is_answered_with_the_reason(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        s = await school(sandbox, services)
        teacher = s.teacher
        await teacher.send("/service")
        await choose(sandbox, teacher, "bkf1:k:reception")
        await choose(sandbox, teacher, "bkf1:l:official")
        await teacher.send("市教育局调研")
        await teacher.send("6+5")  # 6 guests: at most 3 escorts
        assert "3" in last(sandbox, teacher).shown_text
        await teacher.send("6+3")
        await teacher.send("11-26")
        await teacher.send("10:00-11:30")
        await choose(sandbox, teacher, "bkf1:v:reception_room")
        await choose(sandbox, teacher, "bkf1:n:meal")
        await choose(sandbox, teacher, "bkf1:nd:")
        await teacher.send("120")  # yuan per head: over the cap of 60
        assert "60" in last(sandbox, teacher).shown_text
        await teacher.send("50")
        await choose(sandbox, teacher, "bkf1:c:")
        await teacher.send("午餐准备两瓶白酒")
        assert "酒" in last(sandbox, teacher).shown_text
        assert await bookings(services) == []
        await teacher.send("来宾中有一位素食者")
        await choose(sandbox, teacher, "bkf1:w:1")
        await choose(sandbox, teacher, "bkf1:s:")
        (booking,) = await bookings(services)
        assert booking.escorts == 3 and booking.meal_budget == 50
        assert booking.status == BookingStatus.PENDING  # 公务接待: the director approves
        # rejected with a reason the teacher reads
        await press(sandbox, s.director, last(sandbox, s.director), f"bk1:no:{booking.id}")
        await s.director.send("请改为下周再安排")
        assert "请改为下周再安排" in last(sandbox, teacher).shown_text
        (booking,) = await bookings(services)
        assert booking.status == BookingStatus.REJECTED


async def test_weekly_series_books_every_occurrence_and_reminds_each(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        s = await school(sandbox, services)
        await request_meeting(
            sandbox,
            s.director,
            title="行政会",
            people="15",
            day="11-30",
            hours="08:00-09:00",
            venue="office_meeting",
            weeks="4",
        )
        series = await bookings(services)
        assert [b.starts_at.astimezone(SCHOOL_TZ).day for b in series] == [30, 7, 14, 21]
        assert len({b.series for b in series}) == 1
        assert all(b.status == BookingStatus.ASSIGNED for b in series)
        assert "12-21" in last(sandbox, s.director).shown_text
        # a single meeting on one of those Mondays is refused
        await s.teacher.send("/service")
        await choose(sandbox, s.teacher, "bkf1:k:meeting")
        await s.teacher.send("班主任会")
        await s.teacher.send("10")
        await s.teacher.send("12-07")
        await s.teacher.send("08:30-09:30")
        await choose(sandbox, s.teacher, "bkf1:v:office_meeting")
        assert series[1].number in last(sandbox, s.teacher).shown_text
        # each occurrence is reminded on its own, the day before
        clock.set(datetime(2026, 12, 6, 8, 5, tzinfo=SCHOOL_TZ))
        await run(application)
        assert series[1].number in last(sandbox, s.fixer).shown_text
        reminded = [b.number for b in await bookings(services) if b.reminded_at is not None]
        assert reminded == [series[1].number]
        assert series[0].number in last(sandbox, s.director).shown_text  # over: rate it


async def test_the_form_resumes_after_a_restart_and_waits_while_another_form_runs(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        teacher = await register(sandbox, services, "陈老师", Role.TEACHER)
        await teacher.send("/service")
        await choose(sandbox, teacher, "bkf1:k:meeting")
        await teacher.send("行政会")
    async with running_bot(services, sandbox):  # restarted: the people step is asked still
        await teacher.send("12")
        button_text(last(sandbox, teacher), "bkf1:d:2026-11-24")
        await teacher.send("/report")  # another form: this one is put aside
        assert any("/service" in t for t in texts(sandbox, teacher.private_chat_id)[-3:])
        await teacher.send("/service")
        resumed = last(sandbox, teacher)
        button_text(resumed, "bkf1:d:2026-11-24")  # the day step again, the answers kept
        await teacher.send("/cancel")
        await teacher.send("/service")
        button_text(last(sandbox, teacher), "bkf1:k:meeting")  # a fresh form
    assert await bookings(services) == []
