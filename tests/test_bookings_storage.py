"""Storage rules of meeting and reception services: the profile's rules with their reasons,
lead times on the school calendar, free slots and similar venues, filing once, and the
guarded moves with their audit trail."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select

from school.booking_profile import BookingSettings
from school.clock import ManualClock
from school.profile import SchoolProfile
from storage import bookings as store
from storage.booking_models import BookingEvent, BookingStatus
from storage.bookings import BookingMove, Request, Requester
from storage.database import Database
from storage.models import Person, Role
from tests.conftest import SCHOOL_TZ

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SCHOOL_TZ)


def meeting(
    start: datetime, *, people: int = 12, venue: str = "office_meeting", weeks: int = 1
) -> Request:
    return Request(
        kind="meeting",
        class_key="small" if people <= 20 else "medium" if people <= 80 else "large",
        title="教研组会",
        venue_key=venue,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        people=people,
        contact="陈老师",
        weeks=weeks,
    )


def reasons(profile: SchoolProfile, request: Request) -> list[str]:
    found = store.check_rules(
        profile.bookings, profile.calendar, request, now=MONDAY_9, tz=SCHOOL_TZ
    )
    return [r.reason for r in found]


def test_classes_by_size_and_reception_by_level(profile: SchoolProfile) -> None:
    settings = profile.bookings
    assert settings.class_for("meeting", 20).key == "small"  # type: ignore[union-attr]
    assert settings.class_for("meeting", 21).key == "medium"  # type: ignore[union-attr]
    assert settings.class_for("meeting", 81).key == "large"  # type: ignore[union-attr]
    assert settings.class_for("reception", 5, "official").approval  # type: ignore[union-attr]
    assert settings.class_for("reception", 5, "nope") is None
    assert settings.frugality.max_escorts(6) == 3 and settings.frugality.max_escorts(30) == 9
    assert settings.frugality.tables(21) == 3


def test_rules_give_their_reasons(profile: SchoolProfile) -> None:
    wednesday = datetime(2026, 11, 25, 14, 0, tzinfo=SCHOOL_TZ)
    assert reasons(profile, meeting(wednesday)) == []
    # 大型会议: 3 working days ahead, so Thursday at the earliest from Monday
    assert reasons(profile, meeting(wednesday, people=120, venue="lecture_hall")) == ["lead_time"]
    thursday = wednesday + timedelta(days=1)
    assert reasons(profile, meeting(thursday, people=120, venue="lecture_hall")) == []
    assert reasons(profile, meeting(wednesday, people=40)) == ["capacity"]
    assert reasons(profile, meeting(MONDAY_9 - timedelta(hours=1))) == ["past", "lead_time"]
    late = meeting(wednesday.replace(hour=21))
    assert reasons(profile, late) == ["hours"]
    assert reasons(profile, meeting(wednesday, weeks=21)) == ["weeks"]
    reception = Request(
        kind="reception",
        class_key="official",
        title="市教育局调研",
        venue_key="reception_room",
        starts_at=wednesday,
        ends_at=wednesday + timedelta(hours=1),
        people=11,
        escorts=5,
        meal_budget=80,
        note="准备香烟",
        contact="陈老师",
    )
    assert reasons(profile, reception) == ["escorts", "meal_cap", "forbidden"]


def test_lead_time_counts_working_days_of_the_school_calendar(profile: SchoolProfile) -> None:
    calendar = profile.calendar
    assert store.earliest_day(calendar, date(2026, 11, 23), 3) == date(2026, 11, 26)
    assert store.earliest_day(calendar, date(2026, 11, 27), 1) == date(2026, 11, 30)  # weekend
    # 国庆节: 1-7 October off; 8, 9 and the 调休 Saturday 10 October are working days
    assert store.earliest_day(calendar, date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_a_profile_section_with_mistakes_is_refused(profile: SchoolProfile) -> None:
    data = profile.bookings.model_dump()
    data["classes"][0]["checklist"] = ["nosuchstep"]
    with pytest.raises(ValidationError, match="nosuchstep"):
        BookingSettings.model_validate(data)
    data = profile.bookings.model_dump()
    data["venues"].append(data["venues"][0])
    with pytest.raises(ValidationError, match="duplicate"):
        BookingSettings.model_validate(data)
    broken = profile.model_copy(
        update={"bookings": profile.bookings.model_copy(update={"posts": ["nobody"]})}
    )
    assert any("nobody" in str(message) for _, message in broken.problems())


async def _person(database: Database, name: str, role: Role, post: str | None) -> Person:
    async with database.transaction() as session:
        person = Person(
            telegram_id=abs(hash(name)) % 10**9,
            name=name,
            role=role,
            post_key=post,
            created_at=MONDAY_9,
        )
        session.add(person)
        await session.flush()
        return person


async def test_filing_once_free_slots_similar_venues_and_guarded_moves(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    settings = profile.bookings
    teacher = await _person(database, "陈老师", Role.TEACHER, None)
    fixer = await _person(database, "赵师傅", Role.STAFF, "repair")
    guard = await _person(database, "孙师傅", Role.STAFF, "guard")
    director = await _person(database, "张主任", Role.DIRECTOR, None)
    who = Requester(teacher.telegram_id, teacher.name, teacher.id)
    wednesday = datetime(2026, 11, 25, 14, 0, tzinfo=SCHOOL_TZ)
    async with database.transaction() as session:
        filed, created = await store.file_request(
            session, settings, meeting(wednesday, weeks=2), who, token="abc", now=MONDAY_9
        )
        again, created_again = await store.file_request(
            session, settings, meeting(wednesday, weeks=2), who, token="abc", now=MONDAY_9
        )
    assert created and not created_again and [b.id for b in again] == [b.id for b in filed]
    assert [b.number for b in filed] == ["HW-0001", "HW-0002"]
    assert filed[1].starts_at == wednesday + timedelta(weeks=1)
    async with database.reading() as session:
        slots = await store.free_slots(
            session, settings, "office_meeting", wednesday.date(), SCHOOL_TZ
        )
        clash = await store.conflicts(session, meeting(wednesday + timedelta(weeks=1, hours=1)))
        venues = await store.free_venues(
            session,
            settings,
            settings.venue("office_meeting"),
            15,
            [(wednesday, wednesday + timedelta(hours=1))],
        )
    assert slots == [(time(7, 30), time(14, 0)), (time(16, 0), time(21, 30))]
    assert [c.taken_by.number for c in clash] == ["HW-0002"]
    assert [v.key for v in venues] == ["office_small", "east_meeting"]

    first = filed[0]
    assert first.id is not None and first.status == BookingStatus.ASSIGNED
    steps = settings.booking_class("small").checklist
    async with database.transaction() as session:
        with pytest.raises(store.NotAllowed):  # not a responsible post
            await store.move(
                session, first.id, BookingMove.TICK, guard, now=MONDAY_9, step="tea", steps=steps
            )
        with pytest.raises(store.NotAllowed):  # only the director decides
            await store.move(session, first.id, BookingMove.APPROVE, fixer, now=MONDAY_9)
        moved_on = await store.move(session, first.id, BookingMove.APPROVE, director, now=MONDAY_9)
        assert not moved_on.changed  # it needed no approval: nothing happens
        after = settings.after_steps(steps)
        assert after == ["cleanup"]

        async def tick(step: str) -> store.Change:
            assert first.id is not None
            return await store.move(
                session,
                first.id,
                BookingMove.TICK,
                fixer,
                now=MONDAY_9,
                step=step,
                steps=steps,
                after=after,
            )

        for step in steps:
            if step not in after:
                change = await tick(step)
        assert change.booking.status == BookingStatus.READY  # 会后整理 comes after
        untick = await tick("tea")
        assert untick.booking.status == BookingStatus.ASSIGNED
        assert "tea" not in untick.booking.done_steps
        assert (await tick("tea")).booking.status == BookingStatus.READY
        with pytest.raises(store.NotAllowed):  # only the requester rates
            await store.move(session, first.id, BookingMove.RATE, fixer, now=MONDAY_9, rating=5)
        early = await store.move(
            session, first.id, BookingMove.RATE, teacher, now=MONDAY_9, rating=5
        )
        assert not early.changed  # not finished yet
        await store.move(session, first.id, BookingMove.FINISH, None, now=MONDAY_9)
        cleaned = await tick("cleanup")  # after the meeting
        assert cleaned.booking.status == BookingStatus.FINISHED
        assert cleaned.booking.done_steps == list(steps)
        rated = await store.move(
            session, first.id, BookingMove.RATE, teacher, now=MONDAY_9, rating=4
        )
        assert rated.changed and rated.booking.status == BookingStatus.CLOSED
        events = (
            await session.exec(select(BookingEvent).where(BookingEvent.booking_id == first.id))
        ).all()
        assert events[0].action == "request" and events[-1].note == "4★"
        assert await store.workers(session, first.id) == [fixer.id]
        ratings = await store.month_ratings(
            session, MONDAY_9 - timedelta(days=1), MONDAY_9 + timedelta(days=1)
        )
    assert ratings == {fixer.id: [4]}
