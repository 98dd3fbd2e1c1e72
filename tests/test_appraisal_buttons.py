"""The appraisal's form and buttons as a director meets them: the /rate walk put aside by
another form and taken up again, forged or tampered presses refused in one line, buttons of an
older release answered as expired. Through the real bot and the sandbox."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from pydantic import BaseModel
from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers import tickets
from handlers.context import HouqinContext
from handlers.forms import END, Form, load_draft, save_draft
from notices.services import Services
from school.clock import ManualClock
from storage import appraisal
from storage.models import Role
from storage.stats import Month
from tests.conftest import SCHOOL_TZ
from tests.helpers import person_of, private_text, register

EXPIRED = "此按钮已过期"


async def forged_press(
    user: SandboxUser, message: SentMessage, button_text: str, data: str
) -> CallbackAnswer | None:
    """Press a button of `message` whose data was changed to `data` (a forged client)."""
    message.button(button_text)["callback_data"] = data
    return await user.press(message, button_text)


async def cast(sandbox: BotApiSandbox, services: Services) -> dict[str, SandboxUser]:
    users = {"director": await register(sandbox, services, "张主任", Role.DIRECTOR)}
    users["plumber"] = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    users["cleaner"] = await register(sandbox, services, "陈阿姨", Role.STAFF, "cleaner")
    users["teacher"] = await register(sandbox, services, "王老师", Role.TEACHER)
    return users


class NoteDraft(BaseModel):
    lines: list[str] = []


async def note_start(update: Update, context: HouqinContext) -> object:
    save_draft(context, "note", load_draft(context, "note", NoteDraft) or NoteDraft())
    assert update.effective_message is not None
    await update.effective_message.reply_text("note: go on")
    return "lines"


async def note_line(update: Update, context: HouqinContext) -> object:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"note line: {update.effective_message.text}")
    return None


async def note_cancel(update: Update, context: HouqinContext) -> object:
    return END


def note_form() -> Form:
    """Another feature's form (a fresh one per bot: the owner wraps its handlers)."""
    return Form(
        name="note",
        title="Note",
        entry_points=[CommandHandler("note", note_start)],
        steps={"lines": [MessageHandler(filters.TEXT & ~filters.COMMAND, note_line)]},
        cancel=note_cancel,
        resume_hint="Send /note to go on.",
        drafts=("note",),
    )


async def test_the_rate_walk_is_put_aside_by_another_form_and_goes_on_where_it_was(
    services: Services,
    clock: ManualClock,
    sandbox: BotApiSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another feature's form, in the one form owner beside the walk.
    ticket_forms = tickets.forms
    monkeypatch.setattr(tickets, "forms", lambda: [*ticket_forms(), note_form()])
    clock.set(datetime(2026, 11, 5, 10, tzinfo=SCHOOL_TZ))
    async with running_bot(services, sandbox):
        users = await cast(sandbox, services)
        director = users["director"]
        await director.send("/rate 2026-10")
        first = sandbox.last_message(director.private_chat_id)
        assert "1/2" in first.shown_text and "李师傅" in first.shown_text
        await director.send("90")
        assert "陈阿姨" in private_text(sandbox, director)

        mark = sandbox.mark()
        await director.send("/note")
        texts = [m.shown_text for m in sandbox.bot_messages_since(mark)]
        assert "你的领导评价打分已暂存。发送 /rate 可继续打分。" in texts
        await director.send("85")  # goes to the note, not to the walk
        assert private_text(sandbox, director) == "note line: 85"
        parked = sandbox.messages(director.private_chat_id, from_bot=True)
        second = next(m for m in reversed(parked) if "2/2" in m.shown_text)
        answer = await director.press(second, "80")  # the walk's button while it is aside
        assert answer is not None and "/rate" in str(answer.text)

        mark = sandbox.mark()
        await director.send("/rate")  # last month: the same walk, where it was
        since = sandbox.bot_messages_since(mark)
        assert any("你的Note已暂存" in m.shown_text for m in since)
        again = next(m for m in since if "2/2" in m.shown_text)
        assert "陈阿姨" in again.shown_text
        await director.press(again, "80")
        assert "已评 2 人，跳过 0 人" in private_text(sandbox, director)
        ids = {key: (await person_of(services, user)).id for key, user in users.items()}
        async with services.database.reading() as session:
            given = await appraisal.leader_scores(session, Month(2026, 10))
        assert given == {ids["plumber"]: 90, ids["cleaner"]: 80}
    assert sandbox.rejected == []


async def test_forged_and_old_appraisal_buttons_are_refused_in_one_line(
    services: Services,
    clock: ManualClock,
    sandbox: BotApiSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.set(datetime(2026, 11, 5, 10, tzinfo=SCHOOL_TZ))
    async with running_bot(services, sandbox):
        users = await cast(sandbox, services)
        director, teacher = users["director"], users["teacher"]

        await director.send("/appraisal")
        menu = sandbox.last_message(director.private_chat_id)
        [[label]] = menu.buttons
        answer = await forged_press(director, menu, label, "apr2:pv:2026-13:0")
        assert answer is not None and "失效" in str(answer.text)
        answer = await forged_press(director, menu, label, "apr2:pub:2026-10:" + "9" * 26)
        assert answer is not None and "无效" in str(answer.text)
        answer = await forged_press(director, menu, label, "apr:pub:2026-10:0")  # older release
        assert answer is not None and EXPIRED in str(answer.text)
        answer = await forged_press(director, menu, label, "apr2:pub:2099-01:0")  # not begun
        assert answer is not None and "失效" in str(answer.text)

        # The preview's publish button pressed by a teacher (a forwarded or forged message).
        await teacher.send("/help")
        planted = sandbox.last_message(teacher.private_chat_id)
        planted.reply_markup = {
            "inline_keyboard": [[{"text": "x", "callback_data": "apr2:pub:2026-10:0"}]]
        }
        answer = await teacher.press(planted, "x")
        assert answer is not None and "只有后勤主任" in str(answer.text)
        async with services.database.reading() as session:
            assert await appraisal.snapshot_count(session, "2026-10") == 0

        # The /rate walk: a person who is not the one asked, a score no button offers, the
        # older format, and a person id too big for any database.
        await director.send("/rate 2026-10")
        walk = sandbox.last_message(director.private_chat_id)
        answer = await forged_press(director, walk, "100", "aprr2:2026-10:999999:100:0")
        assert answer is not None and "之前" in str(answer.text)
        answer = await forged_press(director, walk, "60", "aprr2:2026-13:1:60:0")
        assert answer is not None and "之前" in str(answer.text)
        asked = (await person_of(services, users["plumber"])).id
        answer = await forged_press(director, walk, "95", f"aprr2:2026-10:{asked}:500:0")
        assert answer is not None and "无效" in str(answer.text)
        answer = await forged_press(director, walk, "90", f"aprr:2026-10:{asked}:90")
        assert answer is not None and EXPIRED in str(answer.text)
        answer = await forged_press(director, walk, "85", "aprr2:2026-10:" + "9" * 26 + ":85:0")
        assert answer is not None and "无效" in str(answer.text)
        async with services.database.reading() as session:
            assert await appraisal.leader_scores(session, Month(2026, 10)) == {}
        await director.press(walk, "80")  # the real button still works
        async with services.database.reading() as session:
            assert await appraisal.leader_scores(session, Month(2026, 10)) == {asked: 80}
    assert sandbox.rejected == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback


async def test_usage_with_angle_brackets_is_sent_as_text(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(datetime(2026, 11, 5, 10, tzinfo=SCHOOL_TZ))
    async with running_bot(services, sandbox):
        users = await cast(sandbox, services)
        director = await register(sandbox, services, "Zhang", Role.DIRECTOR, language_code="en")
        await director.send("/lang")
        await director.press(sandbox.last_message(director.private_chat_id), "English")
        for command in ("/bonus", "/deduct 李师傅", "/incident"):
            await director.send(command)
            assert "<name>" in private_text(sandbox, director)
        await director.send("/bonus 李<b>师傅 +2 2026-10 原因")
        assert "李<b>师傅" in private_text(sandbox, director)
        await users["director"].send("/incident")
        assert "姓名" in private_text(sandbox, users["director"])
    assert sandbox.rejected == []


async def test_the_rate_walk_and_a_return_comment_each_get_their_own_input(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    """The director is giving scores when a staff member's post duties arrive; returning them
    asks for a comment: the walk is put aside, the comment goes to the duties (not taken as a
    score), and /rate goes on with the walk where it was."""
    clock.set(datetime(2026, 11, 5, 10, tzinfo=SCHOOL_TZ))
    async with running_bot(services, sandbox):
        users = await cast(sandbox, services)
        director, cleaner = users["director"], users["cleaner"]
        await director.send("/rate 2026-10")
        await director.send("90")  # 李师傅
        assert "2/2" in private_text(sandbox, director)

        await cleaner.send("/duties")
        await cleaner.press(sandbox.last_message(cleaner.private_chat_id), "起草岗位职责")
        await cleaner.send("负责教学楼1-3楼保洁")
        request = sandbox.last_message(director.private_chat_id)
        assert "陈阿姨" in request.shown_text
        mark = sandbox.mark()
        await director.press(request, "退回")
        parked = [m.shown_text for m in sandbox.bot_messages_since(mark)]
        assert "你的领导评价打分已暂存。发送 /rate 可继续打分。" in parked
        await director.send("85")  # the comment, not 陈阿姨's score
        assert "85" in private_text(sandbox, cleaner)
        async with services.database.reading() as session:
            assert len(await appraisal.leader_scores(session, Month(2026, 10))) == 1

        mark = sandbox.mark()
        await director.send("/rate")
        resumed = next(m for m in sandbox.bot_messages_since(mark) if "2/2" in m.shown_text)
        assert "陈阿姨" in resumed.shown_text
        await director.send("88")
        async with services.database.reading() as session:
            given = await appraisal.leader_scores(session, Month(2026, 10))
        assert sorted(given.values()) == [88, 90]
    assert sandbox.rejected == []
