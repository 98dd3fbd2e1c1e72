"""End to end: work logs through the real bot and the Bot API sandbox, time set by the test.

The people here use English (/lang) so the assertions read the message ids themselves; the
Chinese catalog is checked by tests/test_i18n.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from actions.worklogs import send_reminders
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import jobs as scheduler_jobs
from school.clock import ManualClock
from storage import people, worklogs
from storage.models import (
    InspectionAssignment,
    InspectionMark,
    InspectionRound,
    Role,
    Ticket,
    TicketStatus,
    WorkLog,
)
from tests.helpers import person_of, private_text, register

TZ = ZoneInfo("Asia/Shanghai")
JOBS = ["worklogs.reminder", "worklogs.second_reminder", "worklogs.summary"]


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture
async def app(services: Services, sandbox: BotApiSandbox) -> AsyncIterator[HouqinApp]:
    """The real bot on the sandbox, with the application at hand to run scheduled jobs."""
    async with running_bot(services, sandbox) as application:
        yield application
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


async def english(
    sandbox: BotApiSandbox, services: Services, name: str, role: Role, post: str | None = None
) -> SandboxUser:
    """A registered person who reads the bot in English."""
    user = await register(sandbox, services, name, role, post)
    async with services.database.transaction() as session:
        await people.set_language(session, user.id, "en")
    return user


async def stored_log(services: Services, user: SandboxUser, day: date) -> WorkLog | None:
    person = await person_of(services, user)
    assert person.id is not None
    async with services.database.transaction() as session:
        return await worklogs.get_log(session, person.id, day)


def last_form(sandbox: BotApiSandbox, user: SandboxUser) -> SentMessage:
    """The bot's latest message to the user that has inline buttons."""
    return next(m for m in reversed(sandbox.messages(user.id, from_bot=True)) if m.buttons)


def since(sandbox: BotApiSandbox, mark: int, user: SandboxUser) -> list[str]:
    return [m.shown_text for m in sandbox.bot_messages_since(mark) if m.chat_id == user.id]


async def test_filing_with_the_prefilled_draft_then_editing(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    plumber = await english(sandbox, services, "李师傅", Role.STAFF, "electrician")
    me = await person_of(services, plumber)
    async with services.database.transaction() as session:
        session.add(
            Ticket(
                number="BX-2611-007",
                reporter_telegram_id=999,
                reporter_name="王芳",
                category_key="plumbing",
                place="实验楼3楼女厕",
                description="水龙头一直滴水",
                urgency_key="normal",
                status=TicketStatus.AWAITING_ACCEPTANCE,
                assignee_id=me.id,
                created_at=at(22, 15),
                completed_at=at(23, 8, 40),
                result="fixed",
            )
        )
        inspection = InspectionRound(
            plan_key="weekly",
            occurrence=at(20, 15),
            opened_at=at(20, 15),
            deadline_at=at(23, 18),
        )
        session.add(inspection)
        await session.flush()
        assert inspection.id is not None and me.id is not None
        session.add(
            InspectionAssignment(round_id=inspection.id, person_id=me.id, finished_at=at(23, 8, 50))
        )
        session.add(
            InspectionMark(
                round_id=inspection.id,
                item_key="1",
                ok=True,
                marked_by_id=me.id,
                marked_at=at(23, 8),
            )
        )
    await plumber.send("📝 Work log")
    form = bot_form = sandbox.last_message(plumber.id)
    assert "Work log · 2026-11-23 (Mon)" in form.shown_text
    assert "配电房" in form.shown_text  # the post's duties as a reminder
    assert "1. Repair: BX-2611-007 实验楼3楼女厕 水暖 Fixed" in form.shown_text
    assert "2. Inspection: 每周小查" in form.shown_text
    await plumber.send("1. 更换301教室灯管\n- 检查水泵房")
    await plumber.send_photo(caption="抄录水电表")
    await plumber.press(sandbox.last_message(plumber.id), "Hours")
    await plumber.send("7.5h")
    form = last_form(sandbox, plumber)
    assert form is bot_form  # one message, edited as the log grows
    assert "4. 检查水泵房" in form.shown_text and "1 photo" in form.shown_text
    assert "7.5 h" in form.shown_text
    clock.set(at(23, 17, 5))
    await plumber.press(bot_form, "Save")  # a button of an earlier form message still works
    saved = private_text(sandbox, plumber)
    assert "Your log for 2026-11-23 (Mon) is saved." in saved
    assert "5. 抄录水电表" in saved and "late" not in saved
    log = await stored_log(services, plumber, date(2026, 11, 23))
    assert log is not None and not log.late and log.hours == 7.5 and len(log.photos) == 1
    # the bot's facts are kept as data, worded for whoever reads them
    assert log.items[0] == {
        "repair": "BX-2611-007",
        "place": "实验楼3楼女厕",
        "category": "plumbing",
        "result": "fixed",
    }
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)  # reads Chinese
    await director.send("/logs")
    assert "1. 维修：BX-2611-007 实验楼3楼女厕 水暖 已修复" in private_text(sandbox, director)

    # A second /log the same day edits the same log.
    clock.set(at(23, 21))
    await plumber.send("/log")
    form = sandbox.last_message(plumber.id)
    assert "Editing the log you filed at 17:05" in form.shown_text
    assert "5. 抄录水电表" in form.shown_text
    await plumber.send("-1")
    await plumber.send("夜间巡查配电房")
    await plumber.press(sandbox.last_message(plumber.id), "Save")
    assert "is updated" in private_text(sandbox, plumber)
    async with services.database.transaction() as session:
        rows = await worklogs.logs_between(session, date(2026, 11, 1), date(2026, 11, 30))
    assert len(rows) == 1
    assert rows[0].items[-1] == "夜间巡查配电房" and "repair" not in rows[0].items[0]

    await plumber.send("/mylogs")
    mine = sandbox.last_message(plumber.id)
    assert "夜间巡查配电房" in mine.shown_text
    assert any("Edit today's log" in label for row in mine.buttons for label in row)


async def test_bad_input_in_the_form(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    teacher = await english(sandbox, services, "王芳", Role.TEACHER)
    await teacher.send("/log")
    assert "Your role cannot do that" in private_text(sandbox, teacher)

    await cleaner.send("/log")
    empty = await cleaner.press(sandbox.last_message(cleaner.id), "Save")
    assert empty is not None and "empty" in str(empty.text)
    await cleaner.send_photo()
    assert "at least one line of text" in private_text(sandbox, cleaner)
    await cleaner.send_sticker()
    assert "only take text and photos" in private_text(sandbox, cleaner)
    await cleaner.send("-7")
    assert "There is no item 7" in private_text(sandbox, cleaner)
    await cleaner.send("/cancel")
    assert "not saved" in private_text(sandbox, cleaner)
    assert await stored_log(services, cleaner, date(2026, 11, 23)) is None

    await cleaner.send("/log 2026-11-25")
    assert "has not come yet" in private_text(sandbox, cleaner)
    await cleaner.send("/log someday")
    assert "could not read that date" in private_text(sandbox, cleaner)

    # Long texts: refused past the log's limit, shown back in several messages, never cut.
    await cleaner.send("/log")
    long_lines = [f"{n:02d} " + "清扫教学楼楼道" * 100 for n in range(10)]  # 10 × 703 chars
    for n in range(0, 10, 2):
        await cleaner.send("\n".join(long_lines[n : n + 2]))
    too_much = "再加一项" * 800  # 3200 more would pass the log's 10000 characters
    await cleaner.send(too_much)
    assert "too long" in private_text(sandbox, cleaner)
    mark = sandbox.mark()
    await cleaner.press(last_form(sandbox, cleaner), "Save")
    shown = since(sandbox, mark, cleaner)
    assert len(shown) >= 2 and all(len(text) <= 4096 for text in shown)
    joined = "\n".join(shown)
    assert all(line in joined for line in long_lines)
    log = await stored_log(services, cleaner, date(2026, 11, 23))
    assert log is not None and log.items == long_lines

    # A form button pressed after the form closed changes nothing.
    answer = await cleaner.press(last_form(sandbox, cleaner), "Save")
    assert answer is not None and "no longer open" in str(answer.text)


async def test_late_filing_cutoff_and_midnight(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    guard = await english(sandbox, services, "周师傅", Role.STAFF, "guard")
    # 补交 for Friday (3 days back) is allowed and marked late; 4 days back is too old.
    await guard.send("/log 2026-11-20")
    assert "Late filing" in private_text(sandbox, guard)
    await guard.send("夜间巡逻三次")
    await guard.press(sandbox.last_message(guard.id), "Save")
    assert "saved as late filing" in private_text(sandbox, guard)
    friday = await stored_log(services, guard, date(2026, 11, 20))
    assert friday is not None and friday.late
    await guard.send("/log 11-19")
    assert "can no longer be filed" in private_text(sandbox, guard)
    await guard.send("/log 2026-11-20")
    assert "can no longer be changed" in private_text(sandbox, guard)

    # A form opened before midnight and saved after it is late for its own day.
    clock.set(at(23, 23, 58))
    await guard.send("/log")
    await guard.send("门口值班")
    clock.set(at(24, 0, 1))  # 16:01 UTC: the school's day has changed
    await guard.press(sandbox.last_message(guard.id), "Save")
    assert "saved as late filing" in private_text(sandbox, guard)
    monday = await stored_log(services, guard, date(2026, 11, 23))
    assert monday is not None and monday.late
    # Tuesday's log is a new one, on time; Monday's can no longer be edited.
    await guard.send("/log")
    assert "2026-11-24 (Tue)" in private_text(sandbox, guard)
    await guard.send("/cancel")
    await guard.send("/log yesterday")
    assert "can no longer be changed" in private_text(sandbox, guard)


async def test_reminders_summary_and_the_next_day_button(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await english(sandbox, services, "李师傅", Role.STAFF, "electrician")
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    guard = await english(sandbox, services, "周师傅", Role.STAFF, "guard")
    await plumber.send("/log")
    await plumber.send("巡检配电房")
    await plumber.press(sandbox.last_message(plumber.id), "Save")
    await director.send("/leave 周 11-23 11-24 病假")
    assert "周师傅 on leave 2026-11-23 to 2026-11-24" in private_text(sandbox, director)
    assert "Leave recorded for you" in private_text(sandbox, guard)

    clock.set(at(23, 17, 0))
    mark = sandbox.mark()
    assert "worklogs.reminder" in await scheduler_jobs.run_due(app, names=JOBS)
    reminded = sandbox.bot_messages_since(mark)
    assert [m.chat_id for m in reminded] == [cleaner.id]
    reminder = reminded[0]
    assert "not filed your work log for 2026-11-23" in reminder.shown_text
    assert await scheduler_jobs.run_due(app, names=JOBS) == []  # the occurrence ran already
    assert await send_reminders(services, date(2026, 11, 23)) == 0  # keys: sent once

    clock.set(at(23, 19, 30))
    mark = sandbox.mark()
    assert await scheduler_jobs.run_due(app, names=JOBS) == ["worklogs.second_reminder"]
    assert [
        (m.chat_id, "Second reminder" in m.shown_text) for m in sandbox.bot_messages_since(mark)
    ] == [(cleaner.id, True)]

    clock.set(at(23, 20, 30))
    assert await scheduler_jobs.run_due(app, names=JOBS) == ["worklogs.summary"]
    summary = private_text(sandbox, director)
    assert "Work logs of 2026-11-23" in summary
    assert "Filed on time (1): 李师傅" in summary
    assert "Missing (1): 陈阿姨" in summary
    assert "On leave (1): 周师傅" in summary

    # The reminder's button pressed the next morning opens Monday's log as late filing.
    clock.set(at(24, 8, 30))
    await cleaner.press(reminder, "Write the log")
    form = private_text(sandbox, cleaner)
    assert "2026-11-23 (Mon)" in form and "Late filing" in form
    await cleaner.send("清扫教学楼")
    await cleaner.press(sandbox.last_message(cleaner.id), "Save")
    late = await stored_log(services, cleaner, date(2026, 11, 23))
    assert late is not None and late.late
    # Pressed again a week later: too old, explained.
    clock.set(at(30, 9))
    await cleaner.press(reminder, "Write the log")
    assert "can no longer be changed" in private_text(sandbox, cleaner)


async def test_nobody_is_reminded_on_a_weekend_or_holiday(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    for moment in (at(28, 17), at(28, 20, 30), at(1, 17, month=12) + timedelta(days=31)):
        clock.set(moment)
        mark = sandbox.mark()
        await scheduler_jobs.run_due(app, names=JOBS)
        assert sandbox.bot_messages_since(mark) == []
    del director, cleaner


async def test_director_views_leave_and_ledger(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await english(sandbox, services, "李师傅", Role.STAFF, "electrician")
    li_ming = await english(sandbox, services, "李明", Role.STAFF, "repair")
    await plumber.send("/log 2026-11-20")
    await plumber.send("=SUM(A1:A3) 维修水管")
    await plumber.press(sandbox.last_message(plumber.id), "Save")
    await plumber.send("/log")
    await plumber.send("更换灯管\n疏通下水道")
    await plumber.send_photo()
    await plumber.press(sandbox.last_message(plumber.id), "Save")

    await plumber.send("/logs")
    assert "Only the logistics director" in private_text(sandbox, plumber)
    await director.send("📒 Work logs")
    today = private_text(sandbox, director)
    assert "Work logs of 2026-11-23 (Mon)" in today
    assert "疏通下水道" in today and "Missing: 李明" in today
    await director.send("/logs 李")
    assert "Several people match 李" in private_text(sandbox, director)
    await director.send("/logs 李师傅")
    history = private_text(sandbox, director)
    assert "=SUM(A1:A3) 维修水管" in history and "late" in history
    await director.send("/leave 李 11-24")
    assert "Several people match" in private_text(sandbox, director)
    await director.send("/leave 李明 11-24 11-23")
    assert "ends before it starts" in private_text(sandbox, director)
    await director.send("/leave 李明 11-24")
    assert "李明 on leave 2026-11-24 to 2026-11-24 (1 working day" in private_text(
        sandbox, director
    )
    await director.send("/leave")
    listing = sandbox.last_message(director.id)
    assert "李明 2026-11-24 ~ 2026-11-24" in listing.shown_text
    answer = await director.press(listing, "Delete 1.")
    assert answer is not None and "deleted" in str(answer.text)
    async with services.database.transaction() as session:
        assert await worklogs.on_leave(session, date(2026, 11, 24)) == set()

    clock.advance(timedelta(days=1))  # Tue 11-24: Monday's logs are due
    await director.send("/ledger 2026-11-01 2026-11-30")
    document = sandbox.last_message(director.id)
    assert document.document_name == "Work log ledger_2026-11-01_2026-11-30.xlsx"
    assert document.document_bytes is not None
    book = load_workbook(BytesIO(document.document_bytes))
    assert book.sheetnames == ["2026-11"]
    sheet = book["2026-11"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == [
        "Date",
        "Name",
        "Post",
        "Work done",
        "Photos (count)",
        "Hours worked",
        "Filed at",
        "Status",
    ]
    assert sheet["A1"].font.bold
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    filed = [row for row in rows if row[3]]
    assert len(filed) == 2
    assert filed[0][:5] == [datetime(2026, 11, 20), "李师傅", "水电工", "=SUM(A1:A3) 维修水管", 0]
    assert filed[0][7] == "Late"
    assert filed[1][3] == "更换灯管\n疏通下水道" and filed[1][4] == 1 and filed[1][7] == "On time"
    assert filed[1][6] == datetime(2026, 11, 23, 9, 0)
    # the days nobody filed are in the ledger too (today, 11-24, is not over yet)
    missing = {(row[0].day, row[1]) for row in rows if row[7] == "Missing"}
    assert missing == {(23, "李明")}
    await director.send("/ledger 2026-12-01 2026-11-01")
    assert "before the start" in private_text(sandbox, director)
    del li_ming


async def test_post_duties_drafted_returned_then_approved(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    await cleaner.send("/duties")
    duties = sandbox.last_message(cleaner.id)
    assert "责任区域" in duties.shown_text  # the post's duties from the profile
    await cleaner.press(duties, "Draft my duties")
    await cleaner.send_voice()
    assert "as text" in private_text(sandbox, cleaner)
    await cleaner.send("负责教学楼1-3楼保洁")
    assert "Submitted" in private_text(sandbox, cleaner)
    request = sandbox.last_message(director.id)
    assert "陈阿姨 submitted post duties" in request.shown_text
    refused = await cleaner.press(request, "Approve")
    assert refused is not None and "Only the logistics director" in str(refused.text)
    await director.press(request, "Return")
    await director.send("请写明负责的楼层和卫生间")
    assert "returned" in private_text(sandbox, director)
    assert "请写明负责的楼层和卫生间" in private_text(sandbox, cleaner)
    again = await director.press(request, "Approve")
    assert again is not None and "already handled" in str(again.text)

    await cleaner.send("/duties")
    await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
    await cleaner.send("负责教学楼1-3楼楼道和卫生间保洁\n垃圾分类收集")
    await director.press(sandbox.last_message(director.id), "Approve")
    assert "approved" in private_text(sandbox, cleaner)
    await cleaner.send("/log")
    form = private_text(sandbox, cleaner)
    assert "Your post duties" in form and "垃圾分类收集" in form and "责任区域" not in form
    # /whoami shows the approved duties too, not the profile's generic ones
    await cleaner.send("/cancel")
    await cleaner.send("/whoami")
    me = private_text(sandbox, cleaner)
    assert "Your post duties" in me and "垃圾分类收集" in me and "责任区域" not in me


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_form_survives_a_restart(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
        await cleaner.send("/log")
        await cleaner.send("清扫操场")
    async with running_bot(services, sandbox):
        await cleaner.send("擦洗楼梯扶手")
        await cleaner.press(sandbox.last_message(cleaner.id), "Save")
    log = await stored_log(services, cleaner, date(2026, 11, 23))
    assert log is not None and log.items == ["清扫操场", "擦洗楼梯扶手"]
    assert sandbox.rejected == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_summary_goes_to_the_bound_leaders_group(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    leaders = sandbox.add_group("校领导群", members=[director])
    await sandbox.add_bot_to_group(leaders, by=director)
    await director.send("/bind leaders", chat=leaders)
    clock.set(at(23, 20, 30))
    mark = sandbox.mark()
    assert await scheduler_jobs.run_due(app, names=["worklogs.summary"]) == ["worklogs.summary"]
    sent = sandbox.bot_messages_since(mark)
    assert [m.chat_id for m in sent] == [leaders.id]
    assert "陈阿姨" in sent[0].shown_text and "/logs 2026-11-23" in sent[0].shown_text


async def test_lines_added_to_a_long_log_edit_the_one_form_message(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    """The draft is one message edited in place: a long paste is one edit of it, not a form
    re-sent (in several parts) per message, and the items that no longer fit are counted."""
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    await cleaner.send("/log")
    form = sandbox.last_message(cleaner.id)
    chore = "号教室：擦黑板、拖地、倒垃圾、整理讲台、关好门窗、检查灯具和饮水机是否关闭"
    mark = sandbox.mark()
    for pasted in (range(1, 46), range(46, 91)):  # two long pastes of 45 lines each
        await cleaner.send("\n".join(f"{n}. 清扫{n}{chore}" for n in pasted))
    await cleaner.send("检查楼道灯")
    await cleaner.send("-1")
    await cleaner.send_photo(caption="擦玻璃")
    await cleaner.press(form, "Remove last")
    sent = [e.message for e in sandbox.events[mark:] if e.kind == "message" and e.message]
    assert [m for m in sent if m.chat_id == cleaner.id and m.from_bot] == []  # only edits
    assert len(form.edits) == 6
    assert len(form.shown_text) <= 4096
    assert "90. 检查楼道灯" in form.shown_text and "清扫1号" not in form.shown_text
    assert "earlier item(s), kept but not shown" in form.shown_text
    assert "1 photo" in form.shown_text
    await cleaner.press(form, "Save")
    log = await stored_log(services, cleaner, date(2026, 11, 23))
    assert log is not None and len(log.items) == 90
    assert str(log.items[0]).startswith("清扫2号") and log.items[-1] == "检查楼道灯"
