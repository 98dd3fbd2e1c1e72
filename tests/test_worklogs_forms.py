"""Work logs where they meet other forms and old or forged buttons, through the real bot and
the Bot API sandbox: the day's log parked by another form and resumed with its items, a short
form closed by the log, buttons of an older release answered as expired, and forged presses
refused in one line, never with a traceback."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import jobs as scheduler_jobs
from school.clock import ManualClock
from storage import persisted_state, post_duties, worklogs
from storage.models import Role
from tests import test_worklogs_e2e
from tests.helpers import person_of, private_text
from tests.test_worklogs_e2e import english, last_form, since, stored_log

EXPIRED = "This button has expired"
NOT_VALID = "This button is not valid"
MONDAY = date(2026, 11, 23)
app = test_worklogs_e2e.app  # the fixture: the real bot on the sandbox


async def press_with(
    user: SandboxUser, message: SentMessage, button_text: str, data: str
) -> CallbackAnswer:
    """Press a button whose data was replaced: an older release's, or forged."""
    message.button(button_text)["callback_data"] = data
    answer = await user.press(message, button_text)
    assert answer is not None, "the press was not answered"
    return answer


async def test_the_log_is_parked_by_the_duties_form_and_resumed_with_its_items(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    await cleaner.send("/log")
    form = sandbox.last_message(cleaner.id)
    await cleaner.send("清扫操场\n擦洗楼梯扶手")
    await cleaner.send("/duties")
    mark = sandbox.mark()
    await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
    texts = since(sandbox, mark, cleaner)
    assert "Your work log is put aside. Send /log to go on with it." in texts
    # Input goes to the form the person is in: the duties, not the log.
    await cleaner.send("负责教学楼1-3楼保洁")
    assert "Submitted" in private_text(sandbox, cleaner)
    # The parked log's buttons say how to go on with it, and save nothing.
    answer = await cleaner.press(form, "Save")
    assert answer is not None and "put aside" in str(answer.text)
    assert await stored_log(services, cleaner, MONDAY) is None

    await cleaner.send("/log")
    resumed = private_text(sandbox, cleaner)
    assert "1. 清扫操场" in resumed and "2. 擦洗楼梯扶手" in resumed
    await cleaner.send("倾倒垃圾")
    await cleaner.press(sandbox.last_message(cleaner.id), "Save")
    log = await stored_log(services, cleaner, MONDAY)
    assert log is not None and log.items == ["清扫操场", "擦洗楼梯扶手", "倾倒垃圾"]


async def test_an_item_typed_after_report_then_log_lands_in_the_log(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    await cleaner.send("/report")
    await cleaner.send("/log")
    await cleaner.send("清扫操场")
    assert "1. 清扫操场" in last_form(sandbox, cleaner).shown_text
    await cleaner.press(last_form(sandbox, cleaner), "Save")
    log = await stored_log(services, cleaner, MONDAY)
    assert log is not None and log.items == ["清扫操场"]


async def test_a_parked_late_filing_is_resumed_by_a_plain_log(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    guard = await english(sandbox, services, "周师傅", Role.STAFF, "guard")
    await guard.send("/log 11-20")
    await guard.send("夜间巡逻三次")
    await guard.send("/duties")
    await guard.press(sandbox.last_message(guard.id), "Draft my duties")
    await guard.send("/cancel")
    assert "Cancelled" in private_text(sandbox, guard)
    await guard.send("/log")
    resumed = private_text(sandbox, guard)
    assert "2026-11-20 (Fri)" in resumed and "1. 夜间巡逻三次" in resumed
    await guard.press(sandbox.last_message(guard.id), "Save")
    friday = await stored_log(services, guard, date(2026, 11, 20))
    assert friday is not None and friday.late and friday.items == ["夜间巡逻三次"]
    await guard.send("/log")  # nothing parked any more: today's log
    assert "2026-11-23 (Mon)" in private_text(sandbox, guard)


async def test_the_duties_draft_is_closed_when_the_log_starts(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    await cleaner.send("/duties")
    await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
    mark = sandbox.mark()
    await cleaner.send("📝 Work log")
    assert "Your post duties draft was cancelled." in since(sandbox, mark, cleaner)
    await cleaner.send("清扫操场")
    assert "1. 清扫操场" in last_form(sandbox, cleaner).shown_text
    async with services.database.reading() as session:
        me = await person_of(services, cleaner)
        assert me.id is not None
        assert await post_duties.latest_duties(session, me.id) is None


async def test_another_days_log_puts_the_unsaved_one_aside(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    guard = await english(sandbox, services, "周师傅", Role.STAFF, "guard")
    await guard.send("/log")
    await guard.send("门口值班")
    mark = sandbox.mark()
    await guard.send("/log 11-20")
    texts = since(sandbox, mark, guard)
    assert "Your unsaved log for 2026-11-23 (Mon) was put aside." in texts
    assert "Late filing" in texts[-1] and "门口值班" not in texts[-1]


async def test_buttons_of_an_older_release_are_answered_as_expired(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    clock.set(datetime(2026, 11, 23, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    await scheduler_jobs.run_due(app, names=["worklogs.reminder"])
    reminder = sandbox.last_message(cleaner.id)
    assert "Write the log" in reminder.buttons[0][0]
    answer = await press_with(cleaner, reminder, "Write the log", "wl:open:20261123")
    assert EXPIRED in str(answer.text)

    await cleaner.send("/log")
    await cleaner.send("清扫操场")
    answer = await press_with(
        cleaner, sandbox.last_message(cleaner.id), "Save", "wl:f:save:20261123"
    )
    assert EXPIRED in str(answer.text)
    assert await stored_log(services, cleaner, MONDAY) is None
    await cleaner.send("/duties")
    answer = await press_with(cleaner, sandbox.last_message(cleaner.id), "Draft", "wd:new")
    assert EXPIRED in str(answer.text)

    await director.send("/leave 陈阿姨 11-24")
    await director.send("/leave")
    answer = await press_with(
        director, sandbox.last_message(director.id), "Delete 1.", "wl:lvdel:1"
    )
    assert EXPIRED in str(answer.text)
    async with services.database.reading() as session:
        assert len(await worklogs.leaves_overlapping(session, MONDAY, date(2026, 11, 30))) == 1


async def test_forged_presses_are_refused_in_one_line(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    director = await english(sandbox, services, "张主任", Role.DIRECTOR)
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    guard = await english(sandbox, services, "周师傅", Role.STAFF, "guard")
    await cleaner.send("/duties")
    await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
    await cleaner.send("负责教学楼1-3楼保洁")
    request = sandbox.last_message(director.id)
    draft_id = request.button("Approve")["callback_data"].rsplit(":", 1)[1]

    # Someone else's draft, through a button copied into a staff member's hands.
    await guard.send("/duties")
    answer = await press_with(guard, sandbox.last_message(guard.id), "Draft", f"wd2:ok:{draft_id}")
    assert "Only the logistics director" in str(answer.text)
    # Numbers no draft has: absent, past PostgreSQL's integers (the codec refuses those), past
    # any integer.
    for forged, refusal in [
        ("wd2:ok:424242", "no longer exists"),
        ("wd2:ok:2147483647", "no longer exists"),
        ("wd2:ok:1099511627776", NOT_VALID),
        ("wd2:ret:1099511627776", NOT_VALID),
        ("wd2:ok:99999999999999999999999999", NOT_VALID),
        ("wd2:ok:-1", NOT_VALID),
        ("wd2:maybe:1", NOT_VALID),
    ]:
        answer = await press_with(director, request, "Approve", forged)
        assert refusal in str(answer.text), (forged, answer.text)
    async with services.database.reading() as session:
        draft = await post_duties.get_duties(session, int(draft_id))
        assert draft is not None and draft.status == "pending"

    # Days: impossible, not yet come, or not the open form's.
    await cleaner.send("/mylogs")
    mylogs = sandbox.last_message(cleaner.id)
    answer = await press_with(cleaner, mylogs, "Write today's log", "wl2:20261399")
    assert NOT_VALID in str(answer.text)
    await press_with(cleaner, mylogs, "Write today's log", "wl2:29991231")
    assert "has not come yet" in private_text(sandbox, cleaner)
    await cleaner.send("/log")
    await cleaner.send("清扫操场")
    form = sandbox.last_message(cleaner.id)
    answer = await press_with(cleaner, form, "Save", "wlf1:save:20261120")
    assert "no longer open" in str(answer.text)
    answer = await press_with(cleaner, form, "Save", "wlf1:explode:20261123")
    assert NOT_VALID in str(answer.text)
    assert await stored_log(services, cleaner, MONDAY) is None
    await cleaner.send("擦黑板")  # the form is still open, with its items
    assert "2. 擦黑板" in private_text(sandbox, cleaner)

    await director.send("/leave 周师傅 11-24")
    await director.send("/leave")
    listing = sandbox.last_message(director.id)
    answer = await press_with(director, listing, "Delete 1.", "wlv1:2147483647")
    assert "Already deleted" in str(answer.text)
    async with services.database.reading() as session:
        assert len(await worklogs.leaves_overlapping(session, MONDAY, date(2026, 11, 30))) == 1


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_log_in_progress_when_the_bot_is_upgraded_resumes(
    services: Services, sandbox: BotApiSandbox
) -> None:
    async with running_bot(services, sandbox):
        cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    # What the earlier release kept for a log being written: its own conversation's state and
    # the form as a plain dict under the same user_data key.
    async with services.database.transaction() as session:
        stored = await persisted_state.load_kind(session, "user")
        user_data = dict(stored.get(str(cleaner.id)) or {})
        user_data["worklog_form"] = {
            "day": "2026-11-23",
            "mode": "new",
            "items": ["清扫操场"],
            "photos": [],
            "hours": 7.5,
        }
        await persisted_state.save(
            session, kind="user", key=str(cleaner.id), data=user_data, now=services.now()
        )
        await persisted_state.save(
            session,
            kind="conversation:worklogs",
            key=json.dumps([cleaner.id, cleaner.id]),
            data=1,
            now=services.now(),
        )
    async with running_bot(services, sandbox):
        await cleaner.send("📝 Work log")
        form = private_text(sandbox, cleaner)
        assert "1. 清扫操场" in form and "7.5 h" in form
        await cleaner.send("擦洗楼梯扶手")
        await cleaner.press(sandbox.last_message(cleaner.id), "Save")
    log = await stored_log(services, cleaner, MONDAY)
    assert log is not None and log.items == ["清扫操场", "擦洗楼梯扶手"] and log.hours == 7.5
    assert sandbox.rejected == []


async def test_the_line_about_the_form_left_comes_before_the_new_forms_prompt(
    app: HouqinApp, sandbox: BotApiSandbox, services: Services
) -> None:
    cleaner = await english(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    await cleaner.send("/report")
    mark = sandbox.mark()
    await cleaner.send("/log")
    [parked, form] = since(sandbox, mark, cleaner)
    assert "repair request is put aside" in parked and "Work log" in form
    await cleaner.send("/duties")
    mark = sandbox.mark()
    await cleaner.press(sandbox.last_message(cleaner.id), "Draft my duties")
    [parked, prompt] = since(sandbox, mark, cleaner)
    assert "work log is put aside" in parked and "post duties" in prompt
    mark = sandbox.mark()
    await cleaner.send("/report")
    [closed, prompt] = since(sandbox, mark, cleaner)
    assert "post duties draft was cancelled" in closed and "What kind of fault" in prompt
