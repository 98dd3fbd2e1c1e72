"""The service bookings' scheduled check: the staff reminded before the start, the director
told 1 hour before when the checklist is still open, each once, caught up once after the bot
was down; a ready booking is left alone; an ended one is offered for rating."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from actions import bookings as act
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import jobs as schedule
from school.clock import ManualClock
from storage.booking_models import Booking, BookingStatus
from storage.bookings import Request, Requester
from storage.models import Role
from tests.conftest import SCHOOL_TZ
from tests.helpers import person_of, register

CHECK = "bookings.check"
WEDNESDAY_10 = datetime(2026, 11, 25, 10, 0, tzinfo=SCHOOL_TZ)


@pytest.fixture(autouse=True)
def no_rejected_requests(sandbox: BotApiSandbox) -> Iterator[None]:
    yield
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


async def people(
    sandbox: BotApiSandbox, services: Services
) -> tuple[SandboxUser, SandboxUser, SandboxUser]:
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    fixer = await register(sandbox, services, "赵师傅", Role.STAFF, "repair")
    teacher = await register(sandbox, services, "陈老师", Role.TEACHER)
    return director, fixer, teacher


async def small_meeting(services: Services, teacher: SandboxUser, start: datetime) -> Booking:
    """A 小型会议 filed by the teacher (assigned at once: no approval)."""
    person = await person_of(services, teacher)
    request = Request(
        kind="meeting",
        class_key="small",
        title="教研组会",
        venue_key="office_meeting",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        people=12,
        contact="陈老师",
    )
    filed, _ = await act.file(
        services,
        request,
        Requester(teacher.id, person.name, person.id),
        token="t" + start.strftime("%d%H"),
    )
    assert filed[0].status == BookingStatus.ASSIGNED
    return filed[0]


def said(sandbox: BotApiSandbox, user: SandboxUser, mark: str) -> list[str]:
    return [
        m.shown_text
        for m in sandbox.messages(user.private_chat_id, from_bot=True)
        if mark in m.shown_text
    ]


async def run(application: HouqinApp) -> list[str]:
    return await schedule.run_due(application, names=[CHECK])


async def test_the_lead_time_reminder_goes_once_before_the_start(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        director, fixer, teacher = await people(sandbox, services)
        booking = await small_meeting(services, teacher, WEDNESDAY_10)
        clock.set(WEDNESDAY_10 - timedelta(hours=25))
        assert await run(application) == [CHECK]
        await sandbox.settle()
        assert said(sandbox, fixer, "⏰") == []  # more than 24 hours ahead
        clock.set(WEDNESDAY_10 - timedelta(hours=23, minutes=55))
        await run(application)
        await sandbox.settle()
        (reminder,) = said(sandbox, fixer, "⏰")
        assert booking.number in reminder and "教研组会" in reminder
        for _ in range(3):  # later checks remind nobody again
            clock.advance(timedelta(minutes=5))
            await run(application)
        await sandbox.settle()
        assert len(said(sandbox, fixer, "⏰")) == 1
        assert said(sandbox, director, "⚠️") == []


async def test_the_one_hour_escalation_goes_once_and_not_for_a_ready_booking(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        director, fixer, teacher = await people(sandbox, services)
        open_one = await small_meeting(services, teacher, WEDNESDAY_10)
        ready = await small_meeting(services, teacher, WEDNESDAY_10 + timedelta(hours=2))
        worker = await person_of(services, fixer)
        assert ready.id is not None
        for step in services.profile.bookings.booking_class("small").checklist:
            if step != "cleanup":  # 会后整理复原 comes after the meeting
                await act.tick(services, ready.id, step, worker)
        clock.set(WEDNESDAY_10 - timedelta(minutes=61))
        await run(application)
        await sandbox.settle()
        assert said(sandbox, director, "⚠️") == []
        clock.set(WEDNESDAY_10 - timedelta(minutes=55))
        await run(application)
        clock.advance(timedelta(minutes=5))
        await run(application)
        await sandbox.settle()
        (escalation,) = said(sandbox, director, "⚠️")
        assert open_one.number in escalation
        clock.set(WEDNESDAY_10 + timedelta(hours=1, minutes=5))  # 1 hour before the ready one
        await run(application)
        await sandbox.settle()
        assert len(said(sandbox, director, "⚠️")) == 1


async def test_missed_while_down_the_reminder_and_escalation_go_once_at_start(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        director, fixer, teacher = await people(sandbox, services)
        booking = await small_meeting(services, teacher, WEDNESDAY_10)
        earlier = await small_meeting(services, teacher, WEDNESDAY_10 - timedelta(hours=2))
        clock.set(WEDNESDAY_10 - timedelta(hours=30))
        await run(application)
    # down from Tuesday 04:00 until Wednesday 09:30: the reminder (Tuesday 10:00) and the
    # escalation (09:00) were due meanwhile, and the 08:00 meeting is over
    clock.set(WEDNESDAY_10 - timedelta(minutes=30))
    async with running_bot(services, sandbox) as application:
        assert await run(application) == [CHECK]
        await sandbox.settle()
        assert (
            len(said(sandbox, fixer, "⏰")) == 1 and booking.number in said(sandbox, fixer, "⏰")[0]
        )
        (escalation,) = said(sandbox, director, "⚠️")
        assert booking.number in escalation and earlier.number not in escalation
        last = sandbox.last_message(teacher.private_chat_id)
        assert earlier.number in last.shown_text
        assert any(
            str(b.get("callback_data", "")).startswith(f"bkr1:{earlier.id}:")
            for row in last.inline_keyboard
            for b in row
        )
    clock.advance(timedelta(minutes=5))
    async with running_bot(services, sandbox) as application:  # restarted again: nothing twice
        await run(application)
        await sandbox.settle()
        assert len(said(sandbox, fixer, "⏰")) == 1
        assert len(said(sandbox, director, "⚠️")) == 1


async def test_a_reminder_due_on_a_day_off_goes_the_working_day_before(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        _director, fixer, teacher = await people(sandbox, services)
        monday = datetime(2026, 11, 30, 8, 0, tzinfo=SCHOOL_TZ)
        booking = await small_meeting(services, teacher, monday)
        clock.set(datetime(2026, 11, 27, 7, 55, tzinfo=SCHOOL_TZ))  # Friday morning
        await run(application)
        await sandbox.settle()
        assert said(sandbox, fixer, "⏰") == []
        clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=SCHOOL_TZ))  # not on Sunday: Friday 08:00
        await run(application)
        await sandbox.settle()
        (reminder,) = said(sandbox, fixer, "⏰")
        assert booking.number in reminder
