"""The form owner: one form per person at a time, input goes to the form the person is in,
starting another form parks or closes the current one and says so, and all of it survives a
restart. Driven through the real bot and the sandbox with two small forms."""

from __future__ import annotations

from pydantic import BaseModel
from telegram import Update
from telegram.ext import ApplicationHandlerStop, CommandHandler, MessageHandler, filters

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, Form, FormOwner, active_form, load_draft, opening, save_draft
from notices.services import Services

TEXT = filters.TEXT & ~filters.COMMAND


class NoteDraft(BaseModel):
    lines: list[str] = []


async def _say(update: Update, text: str) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(text)


async def note_start(update: Update, context: HouqinContext) -> object:
    draft = load_draft(context, "note", NoteDraft) or NoteDraft()
    save_draft(context, "note", draft)
    await opening(context)
    await _say(update, f"note: {len(draft.lines)} lines so far")
    return "lines"


async def note_line(update: Update, context: HouqinContext) -> object:
    assert update.effective_message is not None and update.effective_message.text
    draft = load_draft(context, "note", NoteDraft) or NoteDraft()
    draft.lines.append(update.effective_message.text)
    save_draft(context, "note", draft)
    await _say(update, f"note line {len(draft.lines)}: {update.effective_message.text}")
    return None


async def note_cancel(update: Update, context: HouqinContext) -> object:
    await _say(update, "note cancelled")
    return END


async def reason_start(update: Update, context: HouqinContext) -> object:
    if context.args == ["no"]:
        await _say(update, "reason refused")
        return END
    await opening(context)
    await _say(update, "why?")
    return "why"


async def reason_given(update: Update, context: HouqinContext) -> object:
    assert update.effective_message is not None
    await _say(update, f"reason: {update.effective_message.text}")
    return END


async def where(update: Update, context: HouqinContext) -> None:
    await _say(update, f"in {active_form(context)}")
    raise ApplicationHandlerStop


def _toy_forms(application: HouqinApp) -> None:
    forms = [
        Form(
            name="note",
            title="Note",
            entry_points=[CommandHandler("note", note_start)],
            steps={"lines": [MessageHandler(TEXT, note_line)]},
            cancel=note_cancel,
            resume_hint="Send /note to go on.",
            drafts=("note",),
        ),
        Form(
            name="reason",
            title="Reason",
            entry_points=[CommandHandler("reason", reason_start)],
            steps={"why": [MessageHandler(TEXT, reason_given)]},
            cancel=note_cancel,
        ),
    ]

    async def nothing(update: Update, context: HouqinContext) -> None:
        await _say(update, "nothing to cancel")

    application.add_handler(CommandHandler("where", where), group=-3)
    application.add_handler(FormOwner(forms, outside_cancel=nothing).conversation("toy"), -2)


def _texts(sandbox: BotApiSandbox, user: SandboxUser, since: int) -> list[str]:
    """The bot's messages to the user since the mark, without the real bot's fallback answers
    to the toy commands (the toy forms run beside the product's handlers)."""
    return [
        m.shown_text
        for m in sandbox.bot_messages_since(since)
        if m.chat_id == user.id and "/help" not in m.shown_text
    ]


async def test_input_goes_to_the_form_the_person_is_in(
    services: Services, sandbox: BotApiSandbox
) -> None:
    user = sandbox.add_user("李老师")
    async with running_bot(services, sandbox, prepare=_toy_forms):
        await user.send("/note")
        await user.send("first")
        mark = sandbox.mark()
        await user.send("/reason")
        # One line says the note is put aside, then the new form's first prompt.
        assert _texts(sandbox, user, mark) == ["你的Note已暂存。Send /note to go on.", "why?"]
        mark = sandbox.mark()
        await user.send("broken chair")
        assert "reason: broken chair" in _texts(sandbox, user, mark)
        mark = sandbox.mark()
        await user.send("/note")  # back to the parked note: nothing was lost
        await user.send("second")
        assert _texts(sandbox, user, mark)[:2] == ["note: 1 lines so far", "note line 2: second"]


async def test_a_short_form_is_closed_when_another_starts(
    services: Services, sandbox: BotApiSandbox
) -> None:
    user = sandbox.add_user("张师傅")
    async with running_bot(services, sandbox, prepare=_toy_forms):
        await user.send("/reason")
        mark = sandbox.mark()
        await user.send("/note")
        assert _texts(sandbox, user, mark) == ["你的Reason已取消。", "note: 0 lines so far"]
        mark = sandbox.mark()
        await user.send("a line")
        assert "note line 1: a line" in _texts(sandbox, user, mark)


async def test_a_form_that_opens_nothing_leaves_the_current_one(
    services: Services, sandbox: BotApiSandbox
) -> None:
    user = sandbox.add_user("王老师")
    async with running_bot(services, sandbox, prepare=_toy_forms):
        await user.send("/note")
        mark = sandbox.mark()
        await user.send("/reason no")
        texts = _texts(sandbox, user, mark)
        assert "reason refused" in texts
        assert not any("put aside" in text for text in texts)
        mark = sandbox.mark()
        await user.send("still here")
        assert "note line 1: still here" in _texts(sandbox, user, mark)


async def test_the_form_and_its_draft_survive_a_restart_and_cancel_ends_it(
    services: Services, sandbox: BotApiSandbox
) -> None:
    user = sandbox.add_user("赵老师")
    async with running_bot(services, sandbox, prepare=_toy_forms):
        await user.send("/note")
        await user.send("one")
    async with running_bot(services, sandbox, prepare=_toy_forms):
        mark = sandbox.mark()
        await user.send("two")
        await user.send("/where")
        assert _texts(sandbox, user, mark)[:2] == ["note line 2: two", "in note"]
        mark = sandbox.mark()
        await user.send("/cancel")
        await user.send("/where")
        assert _texts(sandbox, user, mark)[:2] == ["note cancelled", "in None"]
        mark = sandbox.mark()
        await user.send("/cancel")  # outside any form: the product's "nothing to cancel"
        assert _texts(sandbox, user, mark) == []
