"""Storage rules of inspections: calendar, opening once, marks, completion, claims and stats."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import select

from school.profile import SchoolProfile
from storage import inspection_calendar as calendar
from storage import inspection_results as results
from storage import inspections as store
from storage.database import Database
from storage.models import InspectionAssignment, InspectionRound, Person, Role
from storage.stats import InspectionStats, Month
from tests.conftest import SCHOOL_TZ

FRIDAY = datetime(2026, 11, 27, 15, 0, tzinfo=SCHOOL_TZ)
NOW = FRIDAY


async def _people(database: Database) -> dict[str, Person]:
    specs = [
        ("张主任", Role.DIRECTOR, None),
        ("李师傅", Role.STAFF, "electrician"),
        ("赵师傅", Role.STAFF, "repair"),
        ("陈阿姨", Role.STAFF, "cleaner"),
        ("周师傅", Role.STAFF, "guard"),
        ("分管后勤副校长", Role.TEACHER, None),
        ("王芳", Role.TEACHER, None),
    ]
    found = {}
    async with database.transaction() as session:
        for n, (name, role, post) in enumerate(specs, start=1):
            person = Person(
                telegram_id=1000 + n, name=name, role=role, post_key=post, created_at=NOW
            )
            session.add(person)
            found[name] = person
        await session.flush()
    return found


def test_calendar_decides_whether_a_round_opens(profile: SchoolProfile) -> None:
    weekly = profile.inspection_plan("weekly")
    assert calendar.skip_reason(profile, weekly, date(2026, 11, 27)) is None
    assert calendar.skip_reason(profile, weekly, date(2027, 1, 1)) == "holiday"
    assert calendar.skip_reason(profile, weekly, date(2026, 7, 17)) == "vacation"
    assert calendar.skip_reason(profile, weekly, date(2026, 11, 28)) == "weekend"
    summer = weekly.model_copy(update={"run_in_vacation": True})
    assert calendar.skip_reason(profile, summer, date(2026, 7, 17)) is None


def test_deadline_reminder_and_catch_up(profile: SchoolProfile) -> None:
    weekly = profile.inspection_plan("weekly")
    monthly = profile.inspection_plan("monthly")
    due = calendar.deadline_for(profile, weekly, FRIDAY)
    assert due == FRIDAY.replace(hour=18)
    assert calendar.catch_up_window(profile, weekly, FRIDAY - timedelta(days=1)) == timedelta(
        hours=3
    )
    round_ = InspectionRound(
        plan_key="weekly", occurrence=FRIDAY, opened_at=FRIDAY, deadline_at=due, status="open"
    )
    assert calendar.reminder_at(weekly, round_) == FRIDAY.replace(hour=17)
    thursday = datetime(2026, 11, 26, 14, 0, tzinfo=SCHOOL_TZ)
    joint = InspectionRound(
        plan_key="monthly",
        occurrence=thursday,
        opened_at=thursday,
        deadline_at=calendar.deadline_for(profile, monthly, thursday),
        status="open",
    )
    # remind_before = 1d is longer than the round: remind halfway instead of at the opening.
    assert calendar.reminder_at(monthly, joint) == thursday.replace(hour=15, minute=45)


async def test_a_round_opens_once_with_its_inspectors(
    database: Database, profile: SchoolProfile
) -> None:
    team = await _people(database)
    monthly = profile.inspection_plan("monthly")
    async with database.transaction() as session:
        first = await store.open_round(
            session, profile=profile, plan=monthly, occurrence=FRIDAY, now=NOW
        )
    async with database.transaction() as session:
        again = await store.open_round(
            session, profile=profile, plan=monthly, occurrence=FRIDAY, now=NOW
        )
        assignments = (await session.exec(select(InspectionAssignment))).all()
    assert first.created and not again.created and first.round.id == again.round.id
    names = {p.name for p in first.inspectors}
    # posts director/electrician/repair/guard, plus the named 分管后勤副校长; not the cleaner
    assert names == {"张主任", "李师傅", "赵师傅", "周师傅", "分管后勤副校长"}
    assert {p.name for p in again.inspectors} == names
    assert len(assignments) == len(names)
    assert "王芳" not in names and team["陈阿姨"].id not in {a.person_id for a in assignments}


async def test_marks_are_made_once_and_the_last_completes_the_round(
    database: Database, profile: SchoolProfile
) -> None:
    team = await _people(database)
    weekly = profile.inspection_plan("weekly")
    async with database.transaction() as session:
        opened = await store.open_round(
            session, profile=profile, plan=weekly, occurrence=FRIDAY, now=NOW
        )
    rid = opened.round.id
    assert rid is not None
    li, zhao = team["李师傅"], team["赵师傅"]
    async with database.transaction() as session:
        first = await store.record_mark(
            session, profile=profile, round_id=rid, item_key="lights_off", person=li, ok=True,
            now=NOW,
        )  # fmt: skip
        second = await store.record_mark(
            session, profile=profile, round_id=rid, item_key="lights_off", person=zhao, ok=True,
            now=NOW,
        )  # fmt: skip
        assert first.created and not second.created
        assert second.mark.marked_by_id == li.id
        count, completed = await store.mark_area_ok(
            session, profile=profile, round_id=rid, area="教室/办公室", person=zhao, now=NOW
        )
        assert (count, completed) == (4, False)
        walk = await store.progress(session, profile, opened.round)
        assert walk.done == 5 and walk.next_item is not None and walk.next_item.key == "taps"
        assert walk.unmarked_in_area("卫生间/供水") == walk.items[5:]
    later = NOW + timedelta(hours=4)  # after the 18:00 deadline
    async with database.transaction() as session:
        count, completed = await store.mark_area_ok(
            session, profile=profile, round_id=rid, area="卫生间/供水", person=li, now=later
        )
        assert (count, completed) == (2, True)
        round_ = await store.get_round(session, rid)
        assert round_ is not None and round_.status == store.COMPLETED
        assert round_.completed_at == later
        summary = await results.summary(session, profile, round_)
    assert summary.checked == 7 and summary.ok_count == 7 and not summary.unchecked
    assert set(summary.markers) == {li.id, zhao.id}
    async with database.transaction() as session:
        stats = await store.month_stats(session, Month(2026, 11), profile)
    # not joint: both inspectors share the round, finished late
    assert stats[li.id or 0] == InspectionStats(assigned=1, on_time=0, late=1, missed=0)
    assert stats[zhao.id or 0] == InspectionStats(assigned=1, on_time=0, late=1, missed=0)


async def test_claims_happen_once_and_overdue_rounds_close_once(
    database: Database, profile: SchoolProfile
) -> None:
    await _people(database)
    weekly = profile.inspection_plan("weekly")
    async with database.transaction() as session:
        opened = await store.open_round(
            session, profile=profile, plan=weekly, occurrence=FRIDAY, now=NOW
        )
    rid = opened.round.id
    assert rid is not None
    async with database.transaction() as session:
        assert await store.rounds_to_remind(session, profile, NOW) == []
        due = await store.rounds_to_remind(session, profile, NOW.replace(hour=17))
        assert [r.id for r in due] == [rid]
        assert await store.claim(session, rid, store.REMINDED, NOW)
        assert not await store.claim(session, rid, store.REMINDED, NOW)
        assert await store.rounds_to_remind(session, profile, NOW.replace(hour=17)) == []
    async with database.transaction() as session:
        assert await store.close_overdue(session, NOW.replace(hour=17, minute=59)) == []
        closed = await store.close_overdue(session, NOW.replace(hour=18))
        assert [r.id for r in closed] == [rid] and closed[0].status == store.CLOSED
        assert await store.close_overdue(session, NOW.replace(hour=19)) == []
        assert [r.id for r in await store.rounds_to_announce(session)] == [rid]
        assert await store.claim(session, rid, store.ANNOUNCED, NOW)
        assert await store.rounds_to_announce(session) == []
        stats = await store.month_stats(session, Month(2026, 11), profile)
    assert all(s == InspectionStats(1, 0, 0, 1) for s in stats.values()) and len(stats) == 2


async def test_trend_counts_problems_per_item_and_month(
    database: Database, profile: SchoolProfile
) -> None:
    await _people(database)
    weekly = profile.inspection_plan("weekly")
    async with database.transaction() as session:
        inspector = (await session.exec(select(Person).where(Person.name == "李师傅"))).one()
        for week, ok in [(0, True), (7, False), (14, True)]:
            opened = await store.open_round(
                session,
                profile=profile,
                plan=weekly,
                occurrence=FRIDAY - timedelta(days=week),
                now=NOW,
            )
            assert opened.round.id is not None
            await store.record_mark(
                session, profile=profile, round_id=opened.round.id, item_key="lights_off",
                person=inspector, ok=ok, now=NOW,
            )  # fmt: skip
        trend = await results.item_trend(session, profile, [Month(2026, 10), Month(2026, 11)])
    assert trend == {"lights_off": {Month(2026, 11): (1, 3)}}
