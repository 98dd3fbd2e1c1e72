"""End to end: the appraisal through the real bot and the sandbox, time moved by the test."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.cli_export import cmd_export_appraisal
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices import charts
from notices.appraisal import COMPONENT_NAMES
from notices.services import Services
from scheduler import appraisal as publishing
from scheduler.jobs import all_jobs, latest_occurrence, run_due, run_occurrence
from school.clock import ManualClock
from school.i18n import translator
from storage import appraisal
from storage.models import (
    AppraisalSnapshot,
    InspectionAssignment,
    InspectionMark,
    InspectionRound,
    LeaderScore,
    Person,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    WorkLog,
)
from storage.stats import Month
from tests.conftest import SCHOOL_TZ
from tests.helpers import person_of, private_text, register

zh = translator("zh_CN")  # the messages as a Chinese reader sees them (English until merged)
MONTHLY = [publishing.MONTHLY]


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SCHOOL_TZ)


class School:
    """The cast of a test: a director, three appraised staff and the bound staff group."""

    def __init__(self, sandbox: BotApiSandbox, services: Services) -> None:
        self.sandbox = sandbox
        self.services = services
        self.users: dict[str, SandboxUser] = {}
        self.ids: dict[str, int] = {}
        self.group: SandboxGroup | None = None

    async def cast(self) -> None:
        sandbox, services = self.sandbox, self.services
        self.users["director"] = await register(sandbox, services, "张主任", Role.DIRECTOR)
        for key, name, post in (
            ("plumber", "李师傅", "electrician"),
            ("cleaner", "陈阿姨", "cleaner"),
            ("guard", "周师傅", "guard"),
        ):
            self.users[key] = await register(sandbox, services, name, Role.STAFF, post)
        for key, user in self.users.items():
            person = await person_of(services, user)
            assert person.id is not None
            self.ids[key] = person.id
        async with services.database.transaction() as session:  # staff since September
            for person in (await session.exec(select(Person))).all():
                person.created_at = at(2026, 9, 1)
                session.add(person)
        director = self.users["director"]
        group = sandbox.add_group("后勤群", members=list(self.users.values()))
        await sandbox.add_bot_to_group(group, by=director)
        await director.send("/bind staff", chat=group)
        self.group = group

    def group_messages(self) -> list[SentMessage]:
        assert self.group is not None
        return [
            m
            for m in self.sandbox.messages(self.group.id, from_bot=True)
            if "/bind" not in m.shown_text and m.kind in ("text", "photo")
        ][1:]  # the first is the bot's answer to /bind


async def october_data(services: Services, ids: dict[str, int]) -> None:
    """Logs, repair jobs, ratings and inspection rounds of October, written as rows."""
    profile = services.profile
    working = profile.calendar.working_days(date(2026, 10, 1), date(2026, 10, 31))
    now = at(2026, 10, 31, 20)
    async with services.database.transaction() as session:
        for key, share in (("plumber", 1.0), ("cleaner", 0.8), ("guard", 0.9)):
            for index, day in enumerate(working[: round(len(working) * share)]):
                session.add(
                    WorkLog(
                        person_id=ids[key],
                        day=day,
                        items=["日常工作"],
                        late=key == "guard" and index % 3 == 0,
                        filed_at=now,
                        updated_at=now,
                    )
                )
        for number, (rating, on_time) in enumerate(((5, True), (4, True), (5, False))):
            done = at(2026, 10, 12 + number, 15)
            ticket = Ticket(
                number=f"BX-2610-{number:03d}",
                reporter_telegram_id=1,
                reporter_name="王芳",
                category_key="water",
                place="实验楼3楼女厕",
                description="水龙头漏水",
                urgency_key="normal",
                status=TicketStatus.CLOSED,
                assignee_id=ids["plumber"],
                created_at=done - timedelta(hours=5),
                accepted_at=done - timedelta(hours=4),
                accept_by=done,
                finish_by=done + timedelta(hours=1 if on_time else -1),
                completed_at=done,
                closed_at=done + timedelta(hours=2),
                rating=rating,
            )
            session.add(ticket)
            await session.flush()
            assert ticket.id is not None
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, actor_id=ids["plumber"], action="complete", at=done
                )
            )
        for week, finished in enumerate((True, True, False)):
            occurrence = at(2026, 10, 9 + 7 * week, 15)
            inspection = InspectionRound(
                plan_key="weekly",
                occurrence=occurrence,
                opened_at=occurrence,
                deadline_at=occurrence + timedelta(hours=3),
                status="completed" if finished else "closed",
            )
            session.add(inspection)
            await session.flush()
            assert inspection.id is not None
            session.add(
                InspectionAssignment(
                    round_id=inspection.id,
                    person_id=ids["guard"],
                    finished_at=occurrence + timedelta(hours=1) if finished else None,
                )
            )
            if finished:  # the guard walked it: credit follows the marks
                session.add(
                    InspectionMark(
                        round_id=inspection.id,
                        item_key="lights_off",
                        ok=True,
                        marked_by_id=ids["guard"],
                        marked_at=occurrence + timedelta(minutes=30),
                    )
                )


async def snapshots(services: Services, period: str) -> list[AppraisalSnapshot]:
    async with services.database.transaction() as session:
        query = (
            select(AppraisalSnapshot)
            .where(AppraisalSnapshot.period == period)
            .order_by(col(AppraisalSnapshot.version))
        )
        return list((await session.exec(query)).all())


async def test_month_rated_published_once_with_chart_corrected_and_explained(
    services: Services,
    clock: ManualClock,
    sandbox: BotApiSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.set(at(2026, 11, 1, 8))  # Sunday 1 November; October is over
    school = School(sandbox, services)
    async with running_bot(services, sandbox) as application:
        await school.cast()
        await october_data(services, school.ids)
        director = school.users["director"]

        # The director's scores: a form walking the staff (周, 李, 陈 by name order).
        await director.send("/rate 2026-10")
        first = sandbox.last_message(director.private_chat_id)
        assert "周师傅" in first.shown_text and "1/3" in first.shown_text
        await director.press(first, "95")
        assert first.buttons == []  # answered: its buttons are gone
        second = sandbox.last_message(director.private_chat_id)
        assert "李师傅" in second.shown_text
        await director.send_sticker()
        assert "0" in private_text(sandbox, director) and "100" in private_text(sandbox, director)
        await director.send("101")
        await director.send("92")
    # A restart in the middle of the form: it resumes where it was.
    async with running_bot(services, sandbox) as application:
        third = sandbox.last_message(director.private_chat_id)
        assert "陈阿姨" in third.shown_text
        await director.send("88")
        assert "2" in private_text(sandbox, director)  # "2 given, 0 skipped"
        async with services.database.transaction() as session:
            given = await appraisal.leader_scores(session, Month(2026, 10))
        ids = school.ids
        assert given == {ids["guard"]: 95, ids["plumber"]: 92, ids["cleaner"]: 88}

        await director.send("/bonus 李师傅 +2 2026-10 暴雨夜抢修水泵")
        assert "+2" in private_text(sandbox, director)
        await director.send("/incident 周师傅 2026-10-15 值班时擅自离岗")
        assert "不合格" in private_text(sandbox, director)
        await school.users["plumber"].send("/bonus 李师傅 +50 自己给自己加分")
        assert "只有后勤主任" in private_text(sandbox, school.users["plumber"])

        # Sunday 09:00: the publication day moves to Monday, the next working day.
        clock.set(at(2026, 11, 1))
        assert await run_due(application, names=MONTHLY) == MONTHLY
        assert school.group_messages() == [] and await snapshots(services, "2026-10") == []

        clock.set(at(2026, 11, 2))
        assert await run_due(application, names=MONTHLY) == MONTHLY
        posted = school.group_messages()
        assert [m.kind for m in posted] == ["text", "photo"]
        text = posted[0].shown_text
        assert text.index("李师傅") < text.index("陈阿姨") < text.index("周师傅")
        assert "不合格" in text
        assert sandbox.file_content(str(posted[1].photo)).startswith(b"\x89PNG")
        [published] = await snapshots(services, "2026-10")
        result = appraisal.snapshot_result(published)
        assert published.version == 1 and published.data["chart_sent"] is True
        assert [r.person.name for r in result.ranked] == ["李师傅", "陈阿姨", "周师傅"]
        plumber = result.ranked[0]
        assert plumber.star and plumber.grade in ("优秀", "合格")
        assert {c.key for c in plumber.components if c.applies} == {
            "worklog",
            "tickets",
            "satisfaction",
            "leader",
        }
        guard = result.ranked[2]
        assert guard.vetoed and guard.grade == "不合格"
        rounds = next(c for c in guard.components if c.key == "inspection")
        assert rounds.score == pytest.approx(200 / 3)  # walked 2 of 3 rounds on time
        assert f"{plumber.total:.1f}" in text

        # A double fire: the occurrence is claimed, nothing is posted twice.
        assert await run_due(application, names=MONTHLY) == []
        job = next(j for j in all_jobs(services) if j.name == publishing.MONTHLY)
        occurrence = latest_occurrence(job.trigger, services.now(), job.catch_up)
        assert occurrence is not None
        assert not await run_occurrence(application, job, occurrence)
    # A restart, and the next day's firing: still one post.
    async with running_bot(services, sandbox) as application:
        assert await run_due(application, names=MONTHLY) == []
        clock.set(at(2026, 11, 3))
        assert await run_due(application, names=MONTHLY) == MONTHLY
        assert len(school.group_messages()) == 2
        assert len(await snapshots(services, "2026-10")) == 1

        # /myscore: every component, its inputs, the weight used and why one was left out.
        plumber_user = school.users["plumber"]
        await plumber_user.send("/myscore 2026-10")
        mine = private_text(sandbox, plumber_user)
        assert f"{plumber.total:.1f}" in mine and plumber.grade in mine
        for component in plumber.components:
            assert zh(COMPONENT_NAMES[component.key]) in mine
        assert zh("no inspection round assigned") in mine
        assert "暴雨夜抢修水泵" in mine and "+2" in mine
        worklog = plumber.components[0]
        assert f"{worklog.weight_used:.1f}".rstrip("0").rstrip(".") + "%" in mine
        await school.users["guard"].send("/myscore")
        assert "值班时擅自离岗" in private_text(sandbox, school.users["guard"])

        # Preview, then a correction with a later bonus; the button works once.
        await director.send("/bonus 陈阿姨 +5 2026-10 国庆值守")
        await director.send("/appraisal preview 2026-10")
        preview = next(
            m
            for m in reversed(sandbox.messages(director.private_chat_id, from_bot=True))
            if m.kind == "text"
        )
        assert "陈阿姨" in preview.shown_text
        assert sandbox.last_message(director.private_chat_id).kind == "photo"
        await director.press(preview, zh("Publish a correction"))
        posted = school.group_messages()
        assert [m.kind for m in posted] == ["text", "photo", "text", "photo"]
        assert (
            zh("⚠️ Correction: these results replace the ones published before.").split(":")[0]
            in posted[2].shown_text
        )
        again = (
            await director.press(preview, zh("Publish a correction")) if preview.buttons else None
        )
        assert again is None or "2" in str(again.text)
        versions = await snapshots(services, "2026-10")
        assert [s.version for s in versions] == [1, 2] and versions[1].data["correction"]
        corrected = appraisal.snapshot_result(versions[1])
        cleaner = next(r for r in corrected.ranked if r.person.name == "陈阿姨")
        before = next(r for r in result.ranked if r.person.name == "陈阿姨")
        assert cleaner.total == min(100, (before.total or 0) + 5)
        await director.send("/appraisal publish 2026-10")
        assert len(await snapshots(services, "2026-10")) == 3
        assert len(school.group_messages()) == 6
        await director.send("/appraisal publish 2026-11")  # not over yet
        assert len(await snapshots(services, "2026-11")) == 0

        # /export: the month, the quarter and the year to date, as the director's file.
        await director.send("/export 2026-10")
        document = sandbox.last_message(director.private_chat_id)
        assert document.kind == "document" and document.document_bytes is not None
        assert str(document.document_name).endswith("2026-10.xlsx")
        book = load_workbook(BytesIO(document.document_bytes))
        month_sheet, quarter_sheet, year_sheet = book.worksheets
        rows = list(month_sheet.iter_rows(values_only=True))
        latest = appraisal.snapshot_result((await snapshots(services, "2026-10"))[-1])
        by_name = {row[1]: row for row in rows[1:]}
        for person in latest.ranked:
            row = by_name[person.person.name]
            assert row[0] == person.rank and row[2] == person.person.post_name
            assert row[10] == pytest.approx(person.total)
            assert row[11] == person.grade and row[12] == person.pay_coefficient
        quarter_rows = list(quarter_sheet.iter_rows(values_only=True))
        assert {row[1] for row in quarter_rows[1:]} == {"李师傅", "陈阿姨", "周师傅"}
        assert len(list(year_sheet.iter_rows(values_only=True))) == 4
        await school.users["cleaner"].send("/export 2026-10")
        assert "只有后勤主任" in private_text(sandbox, school.users["cleaner"])
    assert sandbox.rejected == []

    # The same file from the command line.
    if services.database.dialect == "sqlite":
        target = Path(services.database.url.split("///", 1)[1]).with_name("appraisal.xlsx")
        monkeypatch.setenv("DATABASE_URL", services.database.url)
        args = argparse.Namespace(period="2026-10", out=str(target))
        assert await asyncio.to_thread(cmd_export_appraisal, args) == 0
        cli_rows = list(load_workbook(target).worksheets[0].iter_rows(values_only=True))
        assert cli_rows[1:] == rows[1:]


async def test_a_publication_missed_while_down_goes_out_once_after_restart(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(at(2026, 11, 20, 9))
    school = School(sandbox, services)
    async with running_bot(services, sandbox):
        await school.cast()
        async with services.database.transaction() as session:
            session.add(
                LeaderScore(
                    person_id=school.ids["cleaner"],
                    period="2026-11",
                    score=90,
                    updated_at=at(2026, 11, 20),
                )
            )
    # The bot is down from 30 November to 9 December 10:00 (publication day: Tue 1 December).
    clock.set(at(2026, 12, 9, 10))
    async with running_bot(services, sandbox) as application:
        assert await run_due(application, names=MONTHLY) == MONTHLY
        posted = school.group_messages()
        assert [m.kind for m in posted] == ["text", "photo"]
        assert "陈阿姨" in posted[0].shown_text
    async with running_bot(services, sandbox) as application:
        assert await run_due(application, names=MONTHLY) == []
        clock.advance(timedelta(days=1))
        await run_due(application, names=MONTHLY)
        assert len(school.group_messages()) == 2
        assert [s.version for s in await snapshots(services, "2026-11")] == [1]


async def test_quarter_and_year_summaries_post_on_their_days(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(at(2026, 12, 30, 9))
    school = School(sandbox, services)
    async with running_bot(services, sandbox) as application:
        await school.cast()
        ids = school.ids
        settings = services.profile.appraisal
        # October and November were published already (written directly here).
        async with services.database.transaction() as session:
            for month, scores in (("2026-10", {"plumber": 80.0}), ("2026-11", {"plumber": 90.0})):
                people = [appraisal.PersonInfo(ids["plumber"], "李师傅", "electrician", "水电工")]
                result = appraisal.score_month(
                    people,
                    {},
                    {},
                    {},
                    {ids[k]: v for k, v in scores.items()},
                    {},
                    {},
                    settings,
                    period=month,
                )
                await appraisal.store_snapshot(
                    session,
                    period=appraisal.Period.parse(month),
                    data={"result": appraisal.result_to_data(result), "chart_sent": True},
                    now=services.now(),
                    version=1,
                )
            session.add(
                LeaderScore(
                    person_id=ids["plumber"], period="2026-12", score=100, updated_at=services.now()
                )
            )
        clock.set(at(2027, 1, 5, 9))  # Tuesday: December goes out, then the quarter
        ran = await run_due(application, names=[publishing.MONTHLY, publishing.QUARTERLY])
        assert ran == [publishing.MONTHLY, publishing.QUARTERLY]
        [quarter] = await snapshots(services, "2026-Q4")
        summary = appraisal.snapshot_result(quarter)
        plumber = summary.of(ids["plumber"])
        [december] = await snapshots(services, "2026-12")
        december_total = appraisal.snapshot_result(december).ranked[0].total
        assert december_total is not None  # no logs in December: 0 + the leader's 100 → 50
        mean = round((80 + 90 + december_total) / 3, 2)
        assert plumber is not None and plumber.total == mean
        assert plumber.parts == {"2026-10": 80, "2026-11": 90, "2026-12": december_total}
        texts = [m.shown_text for m in school.group_messages() if m.kind == "text"]
        assert f"{mean:.1f}" in texts[-1] and "李师傅" in texts[-1]
        clock.set(at(2027, 1, 11, 9))  # 10 January 2027 is a Sunday
        assert await run_due(application, names=[publishing.YEARLY]) == [publishing.YEARLY]
        [year] = await snapshots(services, "2026")
        assert appraisal.snapshot_result(year).ranked[0].total == mean  # one quarter
        assert await run_due(application, names=[publishing.YEARLY]) == []
        await school.users["plumber"].send("/myscore 2026-Q4")
        assert f"{mean:.1f}" in private_text(sandbox, school.users["plumber"])


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_without_a_chinese_font_the_results_go_out_as_text_only(
    services: Services,
    clock: ManualClock,
    sandbox: BotApiSandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("HOUQIN_CHART_FONT", raising=False)
    monkeypatch.delenv("CHART_FONT", raising=False)
    monkeypatch.setattr(services.settings, "chart_font", None)
    monkeypatch.setattr(charts, "CJK_FAMILIES", ())
    charts._find_font.cache_clear()
    clock.set(at(2026, 11, 20, 9))
    school = School(sandbox, services)
    try:
        async with running_bot(services, sandbox) as application:
            await school.cast()
            clock.set(at(2026, 12, 1, 9))
            with caplog.at_level(logging.WARNING, logger="notices.charts"):
                assert await run_due(application, names=MONTHLY) == MONTHLY
            assert [m.kind for m in school.group_messages()] == ["text"]
            assert "no Chinese font" in caplog.text
            [snapshot] = await snapshots(services, "2026-11")
            assert snapshot.data["chart_sent"] == "none"
            clock.advance(timedelta(days=1))
            await run_due(application, names=MONTHLY)
            assert [m.kind for m in school.group_messages()] == ["text"]
    finally:
        charts._find_font.cache_clear()
