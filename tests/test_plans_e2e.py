"""End to end: the semester plan (学期工作计划) — imported from the template (the 示范中学's sample
plan), an owner's reminder → progress report in taps and one message, /plan by status, the
weekly digest to the leaders' group, an overdue item flagged to the director once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlmodel import select

from actions import plans as act
from bot.cli import build_parser
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.plans_sheet import read_rows, summary_workbook, template_workbook
from notices.services import Services
from scheduler import jobs as schedule
from school.clock import ManualClock
from school.i18n import translator
from school.profile import SchoolProfile
from storage import plans
from storage.models import Role
from storage.plan_models import PlanItem, PlanMilestone, PlanProgress
from tests.conftest import SCHOOL_TZ
from tests.helpers import button_with, person_of, register
from tests.helpers import last_private as last
from tests.helpers import press_with as press

SEMESTER = "2026秋季"
PIPES = "教学楼卫生间水管改造"
GAS = "食堂燃气管道安全检查与报警器更换"


@pytest.fixture(autouse=True)
def no_rejected_requests(sandbox: BotApiSandbox) -> Iterator[None]:
    yield
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SCHOOL_TZ)


async def import_sample(services: Services) -> tuple[int, int]:
    """The template as `houqin plan template` writes it, imported as it is."""
    data = template_workbook(services.profile, translator("zh_CN"))
    rows, problems = read_rows(data)
    assert problems == []
    return await act.import_plan(services, SEMESTER, rows)


async def items(services: Services) -> dict[str, PlanItem]:
    async with services.database.transaction() as session:
        return {i.title: i for i in (await session.exec(select(PlanItem))).all()}


async def run(application: HouqinApp, name: str) -> list[str]:
    return await schedule.run_due(application, names=[name])


def to_owner(sandbox: BotApiSandbox, user: SandboxUser, since: int) -> list[SentMessage]:
    return [m for m in sandbox.bot_messages_since(since) if m.chat_id == user.private_chat_id]


# --- pure rules ---


@given(st.dates(date(2026, 1, 1), date(2027, 12, 31)), st.integers(-5, 40))
def test_one_reminder_per_threshold_and_the_nearest_only(deadline: date, ahead: int) -> None:
    today = deadline - timedelta(days=ahead)
    due = plans.reminder_due(today, deadline, [7, 1])
    if ahead < 0 or ahead > 7:
        assert due is None
    else:
        assert due == (1 if ahead <= 1 else 7)


@given(st.integers(0, 100), st.dates(), st.dates())
def test_status_is_done_only_at_100_and_overdue_only_past_due(
    percent: int, due: date, today: date
) -> None:
    status = plans.status_of(percent, due, today)
    assert (status == plans.Status.DONE) == (percent == 100)
    if status == plans.Status.OVERDUE:
        assert due < today


def test_semesters() -> None:
    assert plans.semester_of(date(2026, 11, 23)) == "2026秋季"
    assert plans.semester_of(date(2027, 1, 20)) == "2026秋季"
    assert plans.semester_of(date(2027, 3, 1)) == "2027春季"


# --- import ---


async def test_the_template_imports_and_a_bad_file_imports_nothing(services: Services) -> None:
    assert await import_sample(services) == (7, 0)
    found = await items(services)
    assert found[PIPES].owner_post == "electrician" and found[PIPES].category == "维修改造"
    async with services.database.transaction() as session:
        stones = (
            await session.exec(
                select(PlanMilestone).where(PlanMilestone.item_id == found[PIPES].id)
            )
        ).all()
    assert [(s.due, s.title) for s in stones] == [
        (date(2026, 11, 30), "材料采购"),
        (date(2026, 12, 20), "一至三楼完工"),
    ]
    assert await import_sample(services) == (0, 7)  # a second import updates, by title

    book = load_workbook(BytesIO(template_workbook(services.profile, translator("zh_CN"))))
    sheet = book.worksheets[0]
    sheet.append(["新项目", "维修改造", "不存在的人", date(2026, 12, 1), ""])
    sheet.append(["坏日期", "安全", "门卫", "下周", ""])
    buffer = BytesIO()
    book.save(buffer)
    rows, problems = read_rows(buffer.getvalue())
    assert problems == ["row 10: the due date '下周' is not a date"]
    with pytest.raises(act.PlanError) as refused:
        await act.import_plan(services, "2027春季", rows)
    assert any("row 9" in p and "不存在的人" in p for p in refused.value.problems)
    assert len(await items(services)) == 7
    args = build_parser().parse_args(["plan", "import", "plan.xlsx", "--semester", SEMESTER])
    assert args.file == "plan.xlsx" and args.semester == SEMESTER


# --- through the bot ---


async def test_reminder_then_progress_in_taps_and_one_message(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        await import_sample(services)
        plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
        cook = await register(sandbox, services, "王师傅", Role.STAFF, "cook")
        marker = sandbox.mark()
        clock.set(at(date(2026, 11, 23), 9))  # Monday: a week before 材料采购 (30 November)
        assert await run(application, "plans.daily") == ["plans.daily"]
        await sandbox.settle()
        (reminder,) = to_owner(sandbox, plumber, marker)
        assert "材料采购" in reminder.shown_text and "2026-11-30" in reminder.shown_text
        assert to_owner(sandbox, cook, marker) == []  # 燃气 is due on 4 December: not yet

        pipes = (await items(services))[PIPES]
        await press(sandbox, plumber, reminder, "pln1:")  # tap 1
        await plumber.send("差不多一半")  # not a percentage: asked to tap one
        assert button_with(sandbox.messages(plumber.private_chat_id, from_bot=True)[-2], "plnp1:")
        percents = [m for m in sandbox.messages(plumber.private_chat_id) if m.inline_keyboard][-1]
        await press(sandbox, plumber, percents, f"plnp1:{pipes.id}:50")  # tap 2
        assert button_with(last(sandbox, plumber), "plnn1:")  # or save without a note
        await plumber.send_sticker()  # a friendly answer; the form stays at the note
        await plumber.send("水管材料已到货一半")  # the one message
        confirmation = last(sandbox, plumber).shown_text
        assert PIPES in confirmation and "50%" in confirmation
        pipes = (await items(services))[PIPES]
        assert pipes.note == "水管材料已到货一半" and pipes.percent == 50

        # The same day again: no second reminder.
        marker = sandbox.mark()
        clock.set(at(date(2026, 11, 23), 15))
        await run(application, "plans.daily")
        await sandbox.settle()
        assert to_owner(sandbox, plumber, marker) == []

        # /plan for the owner: their items with the progress buttons.
        await plumber.send("/plan")
        mine = last(sandbox, plumber)
        assert PIPES in mine.shown_text and GAS not in mine.shown_text
        assert button_with(mine, "pln1:")


async def test_progress_in_three_taps_and_a_message_and_plan_by_status(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        await import_sample(services)
        director = await register(sandbox, services, "张主任", Role.DIRECTOR)
        cook = await register(sandbox, services, "王师傅", Role.STAFF, "cook")
        clock.set(at(date(2026, 12, 3), 9))  # Thursday: the day before 燃气's due date
        await run(application, "plans.daily")
        await sandbox.settle()
        reminder = last(sandbox, cook)
        assert GAS in reminder.shown_text
        gas = (await items(services))[GAS]
        await press(sandbox, cook, reminder, "pln1:")  # tap 1
        await press(sandbox, cook, last(sandbox, cook), f"plnp1:{gas.id}:75")  # tap 2
        await cook.send_photo(caption="报警器已采购，等待安装")  # the message, with a photo
        gas = (await items(services))[GAS]
        assert gas.percent == 75 and gas.note == "报警器已采购，等待安装"
        assert gas.photo_file_id is not None
        async with services.database.transaction() as session:
            assert len((await session.exec(select(PlanProgress))).all()) == 1

        await director.send("/plan")
        board = last(sandbox, director).shown_text
        # 燃气 (75%, due tomorrow) under 一周内到期; the pipes (0%, January) under 未开始
        assert board.index("一周内到期") < board.index(GAS) < board.index("未开始")
        assert board.index("未开始") < board.index(PIPES)
        assert "0/7" in board


async def test_weekly_digest_once_and_overdue_flagged_once_with_the_last_note(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        await import_sample(services)
        director = await register(sandbox, services, "张主任", Role.DIRECTOR)
        cook = await register(sandbox, services, "王师傅", Role.STAFF, "cook")
        leaders = sandbox.add_group("校领导群", members=[director])
        await sandbox.add_bot_to_group(leaders, by=director)
        await director.send("/bind leaders", chat=leaders)
        gas = (await items(services))[GAS]
        assert gas.id is not None
        await act.report_progress(
            services,
            gas.id,
            await person_of(services, cook),
            percent=60,
            note="报警器已采购",
            photo=None,
        )

        marker = sandbox.mark()
        clock.set(at(date(2026, 11, 30), 8, 30))  # Monday
        assert await run(application, "plans.digest") == ["plans.digest"]
        await sandbox.settle()
        (digest,) = [m for m in sandbox.bot_messages_since(marker) if m.chat_id == leaders.id]
        text = digest.shown_text
        assert GAS in text and "材料采购" in text and "报检" in text  # due this week
        assert "0" in text and "7" in text
        clock.set(at(date(2026, 11, 30), 10))
        await run(application, "plans.digest")
        await sandbox.settle()
        assert [m for m in sandbox.bot_messages_since(marker) if m.chat_id == leaders.id] == [
            digest
        ]

        marker = sandbox.mark()
        clock.set(at(date(2026, 12, 5), 9))  # Saturday: 燃气 was due yesterday
        await run(application, "plans.daily")
        await sandbox.settle()
        (flag,) = to_owner(sandbox, director, marker)
        assert GAS in flag.shown_text and "报警器已采购" in flag.shown_text
        assert "60%" in flag.shown_text
        for day in (6, 7):
            clock.set(at(date(2026, 12, day), 9))
            await run(application, "plans.daily")
        await sandbox.settle()
        assert to_owner(sandbox, director, marker) == [flag]

    async with services.database.transaction() as session:
        found = await plans.entries(session, SEMESTER)
    book = load_workbook(
        BytesIO(summary_workbook(SEMESTER, found, date(2026, 12, 7), translator("zh_CN")))
    )
    results = {r[0]: r[6] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert results[GAS] == "未完成" and results[PIPES] == "进行中"


# --- follow-through in the appraisal ---


def test_follow_through_is_a_component_only_with_a_weight(profile: SchoolProfile) -> None:
    from storage.appraisal.results import PersonInfo
    from storage.appraisal.scoring import score_person

    stats = plans.PlanStats(due=4, on_time=2, late=1, not_done=1)
    person = PersonInfo(1, "李师傅", "electrician", "水电工")
    plain = score_person(
        person,
        log=None,
        ticket=None,
        inspection=None,
        leader=80,
        adjustments=[],
        incidents=[],
        settings=profile.appraisal,
        plan=stats,
    )
    assert [c.key for c in plain.components if c.key == "plan"] == []
    weights = profile.appraisal.weights.model_copy(update={"leader": 10, "plan": 10})
    counted = score_person(
        person,
        log=None,
        ticket=None,
        inspection=None,
        leader=80,
        adjustments=[],
        incidents=[],
        settings=profile.appraisal.model_copy(update={"weights": weights}),
        plan=stats,
    )
    (component,) = [c for c in counted.components if c.key == "plan"]
    assert component.score == pytest.approx((2 + 0.5) / 4 * 100)
    assert counted.total == pytest.approx((80 * 10 + 62.5 * 10) / 20)


async def test_follow_through_counts_in_the_month_it_was_due(
    services: Services, sandbox: BotApiSandbox
) -> None:
    from storage.appraisal import compute_month
    from storage.stats import Month

    async with running_bot(services, sandbox):
        await import_sample(services)
        plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    found = await items(services)
    for title, done_on in (("宿舍楼热水器加装与线路增容", date(2026, 12, 30)),):
        item = found[title]
        assert item.id is not None
        await act.report_progress(
            services,
            item.id,
            await person_of(services, plumber),
            percent=100,
            note="完成",
            photo=None,
        )
        async with services.database.transaction() as session:
            stored = await session.get(PlanItem, item.id)
            assert stored is not None
            stored.done_on = done_on
            session.add(stored)
    weights = services.profile.appraisal.weights.model_copy(update={"leader": 10, "plan": 10})
    appraisal_settings = services.profile.appraisal.model_copy(update={"weights": weights})
    profile = services.profile.model_copy(update={"appraisal": appraisal_settings})
    async with services.database.transaction() as session:
        inputs, result = await compute_month(
            session, Month(2026, 12), profile, today=date(2027, 1, 2)
        )
    person = await person_of(services, plumber)
    # December: 热水器 (done on time) is the electrician's only item due that month
    assert inputs.plans[person.id or 0] == plans.PlanStats(due=1, on_time=1, late=0, not_done=0)
    (row,) = [r for r in result.people if r.person.id == person.id]
    assert [c.score for c in row.components if c.key == "plan"] == [100.0]


async def test_the_director_adds_an_item_by_chat(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        await import_sample(services)
        director = await register(sandbox, services, "张主任", Role.DIRECTOR)
        plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
        await director.send(
            "/plan add 操场围栏油漆 | 维修改造 | 李师傅 | 2026-12-18 | 2026-12-08 采购油漆"
        )
        assert "操场围栏油漆" in last(sandbox, director).shown_text
        await director.send("/plan add 食堂排烟罩清洗 | 卫生 | 食堂炊事员 | 2026-12-18")
        assert "卫生" in last(sandbox, director).shown_text  # not a category: told which are
        await director.send("/plan add 食堂排烟罩清洗 | 安全 | 赵师傅 | 2026-12-18")
        assert "赵师傅" in last(sandbox, director).shown_text  # nobody of that name or post
        await director.send("/plan add 缺字段")
        assert "/plan add" in last(sandbox, director).shown_text
        await plumber.send("/plan add 自己加一项 | 安全 | 李师傅 | 2026-12-18")
        assert "自己加一项" not in str(await items(services))
        fence = (await items(services))["操场围栏油漆"]
        assert fence.semester == SEMESTER and fence.owner_id is not None
        await plumber.send("/plan")
        assert "操场围栏油漆" in last(sandbox, plumber).shown_text
