"""The inspection walk is a form of the form owner: another form parks it (one line says how
to go back), input then goes to the other form, and 继续检查 resumes the walk where it was,
an 异常 half-written included; a draft written by the release before the form owner resumes
too. Through the real bot and the sandbox, on SQLite and PostgreSQL.

No other feature's form is in the form owner on this branch yet, so a small form of another
feature stands in for /report and /log (it joins the form owner the way they will)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from sqlmodel import select
from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from handlers import appraisal
from handlers.context import HouqinContext
from handlers.forms import END, Form, load_draft, opening, save_draft
from notices.services import Services
from school.clock import ManualClock
from storage.models import InspectionMark
from tests.test_inspections_e2e import WEEKLY_ITEMS, crew, last, open_weekly, press

PARKED = "你的检查已暂存。发送 /inspections 继续本轮检查。"


class MemoDraft(BaseModel):
    lines: list[str] = []


async def memo_start(update: Update, context: HouqinContext) -> object:
    draft = load_draft(context, "memo", MemoDraft) or MemoDraft()
    save_draft(context, "memo", draft)
    assert update.effective_message is not None
    await opening(context)
    await update.effective_message.reply_text(f"memo: {len(draft.lines)} lines so far")
    return "lines"


async def memo_line(update: Update, context: HouqinContext) -> object:
    assert update.effective_message is not None and update.effective_message.text
    draft = load_draft(context, "memo", MemoDraft) or MemoDraft()
    draft.lines.append(update.effective_message.text)
    save_draft(context, "memo", draft)
    await update.effective_message.reply_text(f"memo line {len(draft.lines)}")
    return None


async def memo_cancel(update: Update, context: HouqinContext) -> object:
    return END


def memo_forms() -> list[Form]:
    return [
        Form(
            name="memo",
            title="Memo",
            entry_points=[CommandHandler("memo", memo_start)],
            steps={"lines": [MessageHandler(filters.TEXT & ~filters.COMMAND, memo_line)]},
            cancel=memo_cancel,
            resume_hint="Send /memo to go on.",
            drafts=("memo",),
        )
    ]


@pytest.fixture(autouse=True)
def another_features_form(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The memo form joins the form owner beside the walk, as another feature's form."""
    monkeypatch.setattr(appraisal, "forms", memo_forms)
    yield


def texts_since(sandbox: BotApiSandbox, user: SandboxUser, mark: int) -> list[str]:
    return [m.shown_text for m in sandbox.bot_messages_since(mark) if m.chat_id == user.id]


async def test_the_walk_is_parked_by_another_form_and_resumed_with_its_problem(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:ok:{rid}:lights_off")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:bad:{rid}:ac_temperature")
        await plumber.send("空调设定温度过低")  # the note; the photo is asked next

        mark = sandbox.mark()
        await plumber.send("/memo")
        assert texts_since(sandbox, plumber, mark) == [PARKED, "memo: 0 lines so far"]
        mark = sandbox.mark()
        await plumber.send("买灯泡")  # goes to the memo, not to the walk's photo step
        assert texts_since(sandbox, plumber, mark) == ["memo line 1"]

        await plumber.send("/inspections")
        mark = sandbox.mark()
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        [parked, _listing, photo] = texts_since(sandbox, plumber, mark)  # its button goes
        assert parked == "你的Memo已暂存。Send /memo to go on."
        assert "照片" in photo  # back at the 异常's photo
        await plumber.send_photo()
        await plumber.send("教学楼3楼办公室")
        async with services.database.reading() as session:
            found = (
                await session.exec(
                    select(InspectionMark).where(InspectionMark.item_key == "ac_temperature")
                )
            ).one()
        assert found.note == "空调设定温度过低" and found.photo_file_id
        assert found.place_detail == "教学楼3楼办公室" and found.ticket_id is not None
        assert WEEKLY_ITEMS[2] in last(sandbox, plumber).shown_text  # the walk goes on

        # The walk's item buttons work from inside another form, which is parked in turn.
        walk_message = last(sandbox, plumber)
        await plumber.send("/memo")
        mark = sandbox.mark()
        await press(sandbox, plumber, walk_message, f"ins2:ok:{rid}:devices_off")
        assert "你的Memo已暂存。Send /memo to go on." in texts_since(sandbox, plumber, mark)
        assert (
            WEEKLY_ITEMS[3] in sandbox._messages[(plumber.id, walk_message.message_id)].shown_text
        )
        mark = sandbox.mark()
        await plumber.send("/memo")
        assert "memo: 1 lines so far" in texts_since(sandbox, plumber, mark)


async def test_a_problem_being_written_before_the_upgrade_resumes(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber
        # What the release before the form owner kept in user_data at its place step.
        application.user_data[plumber.id]["inspection"] = {
            "round": rid,
            "item": "taps",
            "note": "水龙头滴水",
            "photo": "AgAD-old-photo",
        }
        await plumber.send("/inspections")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        assert "教学楼" in str(last(sandbox, plumber).buttons)  # the place is asked
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:pl:{rid}:teaching")
        async with services.database.reading() as session:
            found = (
                await session.exec(select(InspectionMark).where(InspectionMark.item_key == "taps"))
            ).one()
        assert found.note == "水龙头滴水" and found.photo_file_id == "AgAD-old-photo"
        assert "教学楼" in (found.place_detail or "")
        assert "1/7" in last(sandbox, plumber).shown_text  # then the walk from its first item
