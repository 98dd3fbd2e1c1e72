"""Storage rules of the work logs: filing windows, late flags, leave, stats, draft, duties,
and the Excel helpers."""

from __future__ import annotations

import argparse
import asyncio
import itertools
from datetime import date, datetime, time, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from bot.cli_export import cmd_export_logs
from notices.export import Column, Sheet, ledger_workbook, workbook_bytes
from school.profile import SchoolProfile
from storage import post_duties, worklogs
from storage.database import Database, migrate_sync
from storage.models import (
    InspectionAssignment,
    InspectionMark,
    InspectionRound,
    Person,
    Role,
    Ticket,
    TicketStatus,
)
from storage.stats import LogStats, Month
from storage.worklogs import Access, SaveProblem

TZ = ZoneInfo("Asia/Shanghai")
TELEGRAM_IDS = itertools.count(5001)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


async def add_person(
    db: Database,
    name: str,
    *,
    role: Role = Role.STAFF,
    post: str | None = "cleaner",
    joined: date = date(2026, 9, 1),
    active: bool = True,
) -> Person:
    async with db.transaction() as session:
        person = Person(
            telegram_id=next(TELEGRAM_IDS),
            name=name,
            role=role,
            post_key=post if role == Role.STAFF else None,
            active=active,
            created_at=at(joined, 8),
        )
        session.add(person)
        await session.flush()
    return person


async def file(
    db: Database,
    profile: SchoolProfile,
    person: Person,
    day: date,
    now: datetime,
    items: list[str] | None = None,
) -> worklogs.Saved:
    assert person.id is not None
    async with db.transaction() as session:
        return await worklogs.save_log(
            session,
            person_id=person.id,
            day=day,
            items=items or ["清扫楼道"],
            photos=[],
            hours=None,
            profile=profile,
            now=now,
        )


def test_access_follows_the_cutoff_and_the_late_window(profile: SchoolProfile) -> None:
    monday = date(2026, 11, 23)
    rule = worklogs.access
    assert rule(profile, monday, exists=False, now=at(monday, 9)) == Access.NEW
    assert rule(profile, monday, exists=True, now=at(monday, 23, 59)) == Access.EDIT
    assert rule(profile, monday, exists=False, now=at(monday + timedelta(1), 0)) == Access.LATE
    assert rule(profile, monday, exists=True, now=at(monday + timedelta(1), 0)) == Access.CLOSED
    assert rule(profile, monday, exists=False, now=at(monday + timedelta(3), 23)) == Access.LATE
    assert rule(profile, monday, exists=False, now=at(monday + timedelta(4), 0)) == Access.TOO_OLD
    assert rule(profile, monday + timedelta(1), exists=False, now=at(monday, 23)) == Access.FUTURE
    # The school's day, not UTC's: 00:30 in Shanghai is still the previous day in UTC.
    utc_evening = at(monday + timedelta(1), 0, 30).astimezone(ZoneInfo("UTC"))
    assert rule(profile, monday + timedelta(1), exists=False, now=utc_evening) == Access.NEW
    early = profile.model_copy(
        update={"worklog": profile.worklog.model_copy(update={"cutoff_time": time(21, 0)})}
    )
    assert rule(early, monday, exists=False, now=at(monday, 21, 0)) == Access.NEW
    assert rule(early, monday, exists=False, now=at(monday, 21, 1)) == Access.LATE
    assert rule(early, monday, exists=True, now=at(monday, 21, 1)) == Access.CLOSED


async def test_saving_edits_once_and_refuses_after_the_cutoff(
    database: Database, profile: SchoolProfile
) -> None:
    worker = await add_person(database, "陈阿姨")
    monday = date(2026, 11, 23)
    first = await file(database, profile, worker, monday, at(monday, 17))
    assert first.created and not first.log.late
    second = await file(database, profile, worker, monday, at(monday, 18), ["擦窗", "拖地"])
    assert not second.created and second.log.id == first.log.id
    assert second.log.items == ["擦窗", "拖地"] and second.log.filed_at == at(monday, 17)
    with pytest.raises(SaveProblem) as closed:
        await file(database, profile, worker, monday, at(monday + timedelta(1), 8))
    assert closed.value.reason == "closed" and closed.value.log is not None
    late = await file(database, profile, worker, monday - timedelta(3), at(monday, 9))
    assert late.created and late.log.late
    for day, reason in [(monday - timedelta(4), "too_old"), (monday + timedelta(1), "future")]:
        with pytest.raises(SaveProblem) as refused:
            await file(database, profile, worker, day, at(monday, 9))
        assert refused.value.reason == reason
    with pytest.raises(SaveProblem) as empty:
        await file(database, profile, worker, monday - timedelta(1), at(monday, 9), ["  ", ""])
    assert empty.value.reason == "empty"
    async with database.transaction() as session:
        logs = await worklogs.logs_between(session, date(2026, 11, 1), date(2026, 11, 30))
    assert [(log.day, log.late) for log in logs] == [(date(2026, 11, 20), True), (monday, False)]


async def test_month_stats_count_working_days_leave_and_late(
    database: Database, profile: SchoolProfile
) -> None:
    october = Month(2026, 10)
    working = profile.calendar.working_days(october.first_day, october.last_day)
    assert len(working) == 18  # 国庆 1-7 off, 调休 Saturday the 10th works
    busy = await add_person(database, "李师傅", post="electrician")
    away = await add_person(database, "周师傅", post="guard")
    newcomer = await add_person(database, "陈阿姨", joined=date(2026, 10, 26))
    await add_person(database, "王芳", role=Role.TEACHER)
    await add_person(database, "赵师傅", active=False)
    for day in working[:10]:
        await file(database, profile, busy, day, at(day, 17))
    await file(database, profile, busy, working[10], at(working[10] + timedelta(1), 9))
    await file(database, profile, busy, date(2026, 10, 3), at(date(2026, 10, 3), 10))  # holiday
    assert away.id is not None
    async with database.transaction() as session:
        await worklogs.record_leave(
            session,
            person_id=away.id,
            start=date(2026, 10, 12),
            end=date(2026, 10, 18),
            reason="病假",
            recorded_by_id=None,
            now=at(date(2026, 10, 12), 8),
        )
    await file(database, profile, away, date(2026, 10, 13), at(date(2026, 10, 13), 17))

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with database.transaction() as session:
            stats = await worklogs.month_stats(session, october, profile, today=date(2026, 11, 23))
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 3
    assert set(stats) == {busy.id, away.id, newcomer.id}
    assert stats[busy.id or 0] == LogStats(18, 10, 1, 7, 0)
    assert stats[away.id or 0] == LogStats(13, 0, 0, 13, 5)  # the leave-day log is not counted
    assert stats[newcomer.id or 0] == LogStats(5, 0, 0, 5, 0)  # from the day they joined

    # The running month counts days up to today only.
    november = Month(2026, 11)
    await file(database, profile, newcomer, date(2026, 11, 23), at(date(2026, 11, 23), 9))
    async with database.transaction() as session:
        running = await worklogs.month_stats(session, november, profile, today=date(2026, 11, 23))
        future = await worklogs.month_stats(
            session, Month(2027, 1), profile, today=date(2026, 11, 23)
        )
    assert running[newcomer.id or 0] == LogStats(16, 1, 0, 15, 0)
    assert future == {}


async def test_reminders_skip_filed_leave_and_holidays(
    database: Database, profile: SchoolProfile
) -> None:
    filed = await add_person(database, "李师傅")
    away = await add_person(database, "周师傅")
    missing = await add_person(database, "陈阿姨")
    await add_person(database, "王芳", role=Role.TEACHER)
    monday = date(2026, 11, 23)
    await file(database, profile, filed, monday, at(monday, 10))
    assert away.id is not None
    async with database.transaction() as session:
        await worklogs.record_leave(
            session,
            person_id=away.id,
            start=monday,
            end=monday,
            reason=None,
            recorded_by_id=None,
            now=at(monday, 8),
        )
        assert [p.name for p in await worklogs.people_to_remind(session, monday, profile)] == [
            missing.name
        ]
        assert await worklogs.people_to_remind(session, date(2026, 11, 28), profile) == []
        assert await worklogs.people_to_remind(session, date(2026, 10, 1), profile) == []
        status = await worklogs.day_status(session, monday, profile)
    assert [p.name for p, _ in status.filed] == ["李师傅"]
    assert [p.name for p in status.on_leave] == ["周师傅"]


async def test_the_draft_reads_finished_jobs_and_rounds(
    database: Database, profile: SchoolProfile
) -> None:
    worker = await add_person(database, "李师傅", post="electrician")
    other = await add_person(database, "刘师傅", post="repair")
    monday = date(2026, 11, 23)

    def ticket(number: str, assignee: Person, done: datetime | None) -> Ticket:
        return Ticket(
            number=number,
            reporter_telegram_id=1,
            reporter_name="王芳",
            category_key="plumbing",
            place="实验楼3楼女厕",
            description="滴水",
            urgency_key="normal",
            status=TicketStatus.CLOSED if done else TicketStatus.ACCEPTED,
            assignee_id=assignee.id,
            created_at=at(monday, 8),
            completed_at=done,
            result="fixed" if done else None,
        )

    async with database.transaction() as session:
        session.add(ticket("BX-2611-001", worker, at(monday, 0, 10)))  # 00:10 local
        session.add(ticket("BX-2611-002", worker, at(monday, 23, 50)))
        session.add(ticket("BX-2611-003", worker, at(monday - timedelta(1), 23, 59)))
        session.add(ticket("BX-2611-004", other, at(monday, 10)))
        session.add(ticket("BX-2611-005", worker, None))
        weekly = InspectionRound(
            plan_key="weekly",
            occurrence=at(monday, 9),
            opened_at=at(monday, 9),
            deadline_at=at(monday, 18),
        )
        session.add(weekly)
        await session.flush()
        assert weekly.id is not None and worker.id is not None
        session.add(
            InspectionAssignment(
                round_id=weekly.id, person_id=worker.id, finished_at=at(monday, 15)
            )
        )
        # 刘师傅 was an inspector too, but 李师傅 walked the round: it is not in his log
        assert other.id is not None
        session.add(
            InspectionAssignment(round_id=weekly.id, person_id=other.id, finished_at=at(monday, 15))
        )
        session.add(
            InspectionMark(
                round_id=weekly.id,
                item_key="1",
                ok=True,
                marked_by_id=worker.id,
                marked_at=at(monday, 14),
            )
        )
    async with database.transaction() as session:
        facts = await worklogs.day_activity(session, worker.id, monday, TZ)
        assert other.id is not None
        others = await worklogs.day_activity(session, other.id, monday, TZ)
    assert others == [worklogs.FinishedJob("BX-2611-004", "实验楼3楼女厕", "plumbing", "fixed")]
    assert facts == [
        worklogs.FinishedJob("BX-2611-001", "实验楼3楼女厕", "plumbing", "fixed"),
        worklogs.FinishedRound("weekly"),
        worklogs.FinishedJob("BX-2611-002", "实验楼3楼女厕", "plumbing", "fixed"),
    ]


async def test_names_leave_and_duties(database: Database) -> None:
    li = await add_person(database, "李师傅")
    await add_person(database, "李明")
    gone = await add_person(database, "赵师傅", active=False)
    now = at(date(2026, 11, 23), 9)
    async with database.transaction() as session:
        assert {p.name for p in await worklogs.find_staff(session, "李")} == {"李明", "李师傅"}
        assert [p.id for p in await worklogs.find_staff(session, "李师傅")] == [li.id]
        assert [p.id for p in await worklogs.find_staff(session, "赵")] == [gone.id]
        assert await worklogs.find_staff(session, "王") == []
        assert li.id is not None
        with pytest.raises(ValueError):
            await worklogs.record_leave(
                session,
                person_id=li.id,
                start=date(2026, 11, 25),
                end=date(2026, 11, 24),
                reason=None,
                recorded_by_id=None,
                now=now,
            )
        first, _ = await post_duties.submit_duties(
            session, person_id=li.id, text="巡检\n\n抄表", now=now
        )
        assert first.text == "巡检\n抄表"
        second, withdrawn = await post_duties.submit_duties(
            session, person_id=li.id, text="巡检水电", now=now + timedelta(minutes=1)
        )
        assert [d.id for d in withdrawn] == [first.id]
        assert first.id is not None and second.id is not None
        _, changed = await post_duties.decide_duties(
            session, duties_id=first.id, approve=True, director_id=None, comment=None, now=now
        )
        assert not changed
        decided, changed = await post_duties.decide_duties(
            session, duties_id=second.id, approve=True, director_id=None, comment=None, now=now
        )
        assert changed and decided.status == "approved"
        again, changed = await post_duties.decide_duties(
            session, duties_id=second.id, approve=False, director_id=None, comment="x", now=now
        )
        assert not changed and again.status == "approved"
        approved = await post_duties.approved_duties(session, li.id)
        assert approved is not None and approved.text == "巡检水电"
        # Ids no row can have (a forged button): no query fails, nothing is found.
        for forged in (0, 2**31, 10**15):
            assert await post_duties.get_duties(session, forged) is None
            assert await worklogs.delete_leave(session, forged) is None
            with pytest.raises(LookupError):
                await post_duties.decide_duties(
                    session, duties_id=forged, approve=True, director_id=None, comment=None, now=now
                )


def test_typed_dates() -> None:
    today = date(2026, 11, 23)
    parse = worklogs.parse_day
    assert parse("2026-11-20", today) == date(2026, 11, 20)
    assert parse("2026/11/20", today) == date(2026, 11, 20)
    assert parse("20261120", today) == date(2026, 11, 20)
    assert parse("11-20", today) == date(2026, 11, 20)
    assert parse("1/5", today) == date(2026, 1, 5)
    assert parse("昨天", today) == date(2026, 11, 22)
    assert parse("today", today) == today
    for bad in ("李师傅", "2026-13-01", "11-31", "", "1-2-3", "2026-11"):
        assert parse(bad, today) is None, bad


def test_workbook_bytes_is_generic() -> None:
    data = workbook_bytes(
        [
            Sheet(
                "a/b:c?",
                [
                    Column("名字", 10),
                    Column("内容", 40, wrap=True),
                    Column("日期", 12, False, "yyyy-mm-dd"),
                ],
                [["张三", "=1+1\n第二行\x07", date(2026, 11, 1)], ["李四", None, None]],
            ),
            Sheet("a_b_c_", [Column("x")], []),
        ]
    )
    book = load_workbook(BytesIO(data))
    assert book.sheetnames == ["a_b_c_", "a_b_c_ (2)"]
    sheet = book["a_b_c_"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet["B2"].value == "=1+1\n第二行" and sheet["B2"].data_type == "s"
    assert sheet["B2"].alignment.wrap_text
    assert sheet["C2"].value == datetime(2026, 11, 1)
    assert load_workbook(BytesIO(workbook_bytes([]))).sheetnames == ["Sheet"]


async def test_the_ledger_has_a_sheet_per_month(database: Database, profile: SchoolProfile) -> None:
    worker = await add_person(database, "李师傅", post="electrician", joined=date(2026, 10, 26))
    for day in (date(2026, 10, 30), date(2026, 11, 2), date(2026, 11, 3)):
        await file(database, profile, worker, day, at(day, 17, 30), ["维修水管", "巡检"])
    await file(database, profile, worker, date(2026, 11, 4), at(date(2026, 11, 5), 9), ["补"])
    assert worker.id is not None
    async with database.transaction() as session:
        await worklogs.record_leave(
            session,
            person_id=worker.id,
            start=date(2026, 10, 28),
            end=date(2026, 10, 28),
            reason=None,
            recorded_by_id=None,
            now=at(date(2026, 10, 27), 9),
        )
    async with database.transaction() as session:
        data, count = await ledger_workbook(
            session,
            profile,
            date(2026, 10, 1),
            date(2026, 12, 31),
            lambda s: s,
            now=at(date(2026, 11, 6), 9),  # 11-05's window is closed, 11-06's is not
        )
    assert count == 4
    book = load_workbook(BytesIO(data))
    assert book.sheetnames == ["2026-10", "2026-11", "2026-12"]
    october = [[c.value for c in row] for row in book["2026-10"].iter_rows(min_row=2)]
    # from the day he registered: Mon 26 and Tue 27 missing, Wed 28 on leave, Thu 29 missing
    assert [(row[0].day, row[7]) for row in october] == [
        (26, "Missing"),
        (27, "Missing"),
        (28, "On leave"),
        (29, "Missing"),
        (30, "On time"),
    ]
    november = [[c.value for c in row] for row in book["2026-11"].iter_rows(min_row=2)]
    assert [(row[0].day, row[7]) for row in november] == [
        (2, "On time"),
        (3, "On time"),
        (4, "Late"),
        (5, "Missing"),
    ]
    assert november[0] == [
        datetime(2026, 11, 2),
        "李师傅",
        "水电工",
        "维修水管\n巡检",
        0,
        None,
        datetime(2026, 11, 2, 17, 30),
        "On time",
    ]
    assert november[3][3:7] == [None, None, None, None]
    assert book["2026-12"].max_row == 1


def test_houqin_export_logs_writes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: SchoolProfile
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate_sync(url)

    async def seed() -> None:
        db = Database(url)
        try:
            worker = await add_person(db, "李师傅", post="electrician")
            await file(db, profile, worker, date(2026, 11, 2), at(date(2026, 11, 2), 17))
        finally:
            await db.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOUQIN_LANGUAGE", "en")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ledger.xlsx"
    args = argparse.Namespace(date_from="2026-11-01", date_to="2026-11-30", out=str(out))
    assert cmd_export_logs(args) == 0
    book = load_workbook(out)
    assert book["2026-11"]["B2"].value == "李师傅"
    assert book["2026-11"]["A1"].value == "Date"
    from bot.cli_errors import CliError

    with pytest.raises(CliError):
        cmd_export_logs(argparse.Namespace(date_from="2026-11-30", date_to="2026-11-01", out="x"))
