"""The act form: the reason, new date, result (and photo) or comment a repair button needs,
asked in the presser's private chat after 维修完成, 延期, 转单, 退回, 返修 or the stars of 验收.
The form is short: it is closed (not parked) when another form starts."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from telegram import InlineKeyboardMarkup, Update
from telegram.error import Forbidden
from telegram.ext import BaseHandler, MessageHandler, filters

from actions import tickets as act
from handlers.buttons import on_button
from handlers.common import end_form, private_chat, reply, typed_text, voice_in
from handlers.context import HouqinContext
from handlers.forms import Form, opening, save_draft
from handlers.ticket_act_draft import (
    ACT_DRAFT,
    ActDraft,
    draft_of,
    end_act,
    expired,
    pressed_draft,
)
from handlers.ticket_costs import ask_costs, costs_steps
from handlers.ticket_form import PRIVATE_INPUT
from handlers.ticket_jobs import assign_button
from handlers.ticket_presses import (
    actor_of,
    alert,
    make_reporter_move,
    not_valid,
    pressed_ticket,
    retire_notice_buttons,
)
from notices import tickets as told
from notices.render import button, edit_or_ignore, esc, keyboard
from notices.ticket_buttons import (
    RESULT_LABELS,
    DeferDateButton,
    RatingButton,
    ResultButton,
    SkipButton,
    TicketButton,
    pressed_move,
)
from notices.ticket_costs import cost_summary
from school.i18n import N_
from storage.models import Ticket
from storage.ticket_costs import MaterialLine
from storage.ticket_flow import FLOW, Asks, Move

MAX_REASON = 200
MAX_COMMENT = 300
MAX_DEFER_DAYS = 90
# The moves whose button opens the act form (they ask for input), by the draft's name of it.
ACT_NAMES: dict[Move, Literal["done", "defer", "xfer", "rej", "rw"]] = {
    Move.COMPLETE: "done",
    Move.DEFER: "defer",
    Move.RELEASE: "xfer",
    Move.REJECT: "rej",
    Move.REWORK: "rw",
}
AnyHandler = BaseHandler[Update, HouqinContext, object]


# --- the act form: a reason, a date, a result, a comment -----------------------------------------


async def _prompt_private(
    update: Update, context: HouqinContext, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Ask the next step in the presser's private chat; False if they never started the bot."""
    user = update.effective_user
    query = update.callback_query
    assert user is not None
    try:
        await context.bot.send_message(user.id, text, reply_markup=markup)
    except Forbidden:
        await alert(update, context, context._("Send /start to me in a private chat first."))
        return False
    if query is not None:
        if private_chat(update):
            await query.answer()
        else:
            await query.answer(context._("Continue in our private chat."))
    return True


REASON_PROMPTS = {
    Move.DEFER: N_(
        "Why must {ticket} wait? Send the reason in one message (the reporter sees it)."
    ),
    Move.RELEASE: N_("Why are you handing {ticket} back to the repair group? Send the reason."),
    Move.REJECT: N_("Why is {ticket} returned? Send the reason (the reporter sees it)."),
    Move.REWORK: N_("What is still wrong with {ticket}? Send it in one message."),
}


async def act_entry(update: Update, context: HouqinContext, data: TicketButton) -> object:
    """A button that needs more input: 维修完成, 延期, 转单, 退回, 返修."""
    move = pressed_move(data.move, director=actor_of(update, context).director)
    if move == Move.ASSIGN:  # a director's 转单: the picker, no form
        await assign_button(update, context, TicketButton(Move.ASSIGN, data.ticket_id))
        return None
    ticket = await pressed_ticket(update, context, data.ticket_id, move)
    if ticket is None:
        return None
    _ = context._
    head = told.ticket_head(ticket, context.services)
    await opening(context)
    if FLOW[move].asks == Asks.RESULT:
        rows = [
            [button(_(label), ResultButton(data.ticket_id, result))]
            for result, label in RESULT_LABELS.items()
        ]
        text = _("Repair done on {ticket}. What was the result?").format(ticket=head)
        if not await _prompt_private(update, context, text, keyboard(rows)):
            return None
        save_draft(context, ACT_DRAFT, ActDraft(action="done", id=data.ticket_id, step="result"))
        return "result"
    text = _(REASON_PROMPTS[move]).format(ticket=head) + "\n" + _("/cancel to stop.")
    if not await _prompt_private(update, context, text):
        return None
    if move == Move.REWORK:
        await retire_notice_buttons(update, data.ticket_id)
    draft = ActDraft(action=ACT_NAMES[move], id=data.ticket_id, step="reason")
    save_draft(context, ACT_DRAFT, draft)
    return "reason"


async def rate_button(update: Update, context: HouqinContext, data: RatingButton) -> object:
    """The stars: the acceptance is committed at once; a comment is optional."""
    query = update.callback_query
    assert query is not None
    if not 1 <= data.stars <= 5:
        await not_valid(update, context)
        return None
    _ = context._
    change = await make_reporter_move(
        update, context, data.ticket_id, Move.ACCEPT, act.accept, rating=data.stars
    )
    if change is None:
        return None
    ticket = change.ticket
    await query.answer(_("Thank you!"))
    await query.edit_message_text(
        _(
            "{number} is accepted. Your rating: {stars}\nAdd a comment? Send it now, or skip."
        ).format(number=esc(ticket.number), stars=told.stars(data.stars)),
        reply_markup=keyboard([[button(_("Skip"), SkipButton(data.ticket_id))]]),
    )
    save_draft(context, ACT_DRAFT, ActDraft(action="comment", id=data.ticket_id, step="comment"))
    return "comment"


def _with_draft(
    step: Callable[[Update, HouqinContext, ActDraft], Awaitable[object]],
) -> Callable[[Update, HouqinContext], Coroutine[Any, Any, object]]:
    """A message during the form, given to `step` with the draft; with the draft gone (lost
    with an upgrade) the form ends."""

    async def handle(update: Update, context: HouqinContext) -> object:
        draft = draft_of(context)
        if draft is None:
            return end_act(context)
        return await step(update, context, draft)

    return handle


async def result_chosen(update: Update, context: HouqinContext, data: ResultButton) -> object:
    """The result of the repair; then a photo, a note, or skip."""
    query = update.callback_query
    draft = pressed_draft(context, data.ticket_id, "result")
    assert query is not None
    if draft is None:
        return await expired(update, context)
    draft.result, draft.step = data.result.value, "note"
    save_draft(context, ACT_DRAFT, draft)
    _ = context._
    await query.answer()
    if draft.voice is not None:  # the voice note came first: it is the note
        await query.edit_message_text(
            _("Result: {result}.").format(result=_(RESULT_LABELS[data.result]))
        )
        return await ask_costs(update, context, draft)
    await query.edit_message_text(
        _(
            "Result: {result}. Send a photo of the finished work (a caption is kept as the "
            "note), a short note or a voice message, or skip."
        ).format(result=_(RESULT_LABELS[data.result])),
        reply_markup=keyboard([[button(_("Skip"), SkipButton(data.ticket_id))]]),
    )
    return "note"


async def result_typed(update: Update, context: HouqinContext) -> object:
    """A message before the result is chosen; a voice note is kept for the completion."""
    message = update.effective_message
    voice = voice_in(message) if message is not None else None
    draft = draft_of(context)
    _ = context._
    if voice is None or draft is None:
        await reply(update, context, _("Please choose the result with the buttons above."))
        return None
    draft.voice, draft.voice_seconds = voice.file_id, voice.duration
    save_draft(context, ACT_DRAFT, draft)
    await reply(
        update,
        context,
        "🎤 "
        + _("Voice note kept ({length}). Now choose the result with the buttons above.").format(
            length=voice.length
        ),
    )
    return None


async def skip_pressed(update: Update, context: HouqinContext, data: SkipButton) -> object:
    """Skip the photo or note of a repair, or the comment on a rating."""
    query = update.callback_query
    draft = pressed_draft(context, data.ticket_id, "note", "comment")
    assert query is not None
    if draft is None:
        return await expired(update, context)
    if draft.step == "comment":
        await query.answer(context._("Thank you!"))
        await edit_or_ignore(query.edit_message_reply_markup(None))
        return end_act(context)
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    return await ask_costs(update, context, draft)


async def note_given(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    """A photo of the finished work (its caption is the note), a short note or a voice note."""
    message = update.effective_message
    assert message is not None
    if message.photo:
        caption = (message.caption or "").strip()[:MAX_COMMENT] or None
        draft.note, draft.photo = caption, message.photo[-1].file_id
        return await ask_costs(update, context, draft)
    voice = voice_in(message)
    if voice is not None:
        draft.voice, draft.voice_seconds = voice.file_id, voice.duration
        return await ask_costs(update, context, draft)
    if message.text and len(message.text) <= MAX_COMMENT:
        draft.note = message.text.strip()
        return await ask_costs(update, context, draft)
    await reply(
        update,
        context,
        context._(
            "Send one photo, a note of at most {limit} characters or a voice message, "
            "or press Skip."
        ).format(limit=MAX_COMMENT),
    )
    return None


async def _typed(update: Update, context: HouqinContext, limit: int) -> str | None:
    """The text typed for a reason or comment, or None (told what is wrong)."""
    return await typed_text(
        update, context, limit, if_empty=context._("Please send text. /cancel to stop.")
    )


async def reason_given(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    """The reason of a deferral (then the date), a hand-over, a return or a rework."""
    reason = await _typed(update, context, MAX_REASON)
    if reason is None:
        return None
    if draft.action == "defer":
        draft.reason, draft.step = reason, "date"
        save_draft(context, ACT_DRAFT, draft)
        await reply(
            update,
            context,
            context._("Until when? Pick a day or send a date like 11-30."),
            reply_markup=_date_buttons(context, draft.id),
        )
        return "date"
    return await _finish_with_reason(update, context, draft, reason)


async def date_chosen(update: Update, context: HouqinContext, data: DeferDateButton) -> object:
    draft = pressed_draft(context, data.ticket_id, "date")
    assert update.callback_query is not None
    if draft is None:
        return await expired(update, context)
    await update.callback_query.answer()
    return await _finish_defer(update, context, draft, data.day)


async def date_typed(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    text = await _typed(update, context, MAX_REASON)
    if text is None:
        return None
    day = parse_day(text, context.services.local_now().date())
    if day is None:
        await reply(
            update,
            context,
            context._("Send a date like 11-30 or 2026-11-30, or press one of the buttons."),
        )
        return None
    return await _finish_defer(update, context, draft, day)


async def comment_given(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    """The reporter's comment on an accepted repair."""
    user = update.effective_user
    assert user is not None
    text = await _typed(update, context, MAX_COMMENT)
    if text is None:
        return None
    try:
        await act.comment(
            context.bot, context.services, draft.id, reporter_telegram_id=user.id, text=text
        )
    except act.NotAllowed:
        return end_act(context)
    await reply(update, context, context._("Thank you, your comment is saved."))
    return end_act(context)


async def not_text(update: Update, context: HouqinContext) -> object:
    """Anything else during the act form (a sticker, a voice note)."""
    await reply(update, context, context._("Please send text. /cancel to stop."))
    return None


def parse_day(text: str, today: date) -> date | None:
    """'2026-11-30', '11-30', '11/30', '11月30日' → a day after today within 90 days."""
    match = re.fullmatch(
        r"\s*(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?\s*", text
    )
    if not match:
        return None
    year = int(match.group(1)) if match.group(1) else today.year
    try:
        day = date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    if not match.group(1) and day <= today:
        try:
            day = day.replace(year=today.year + 1)
        except ValueError:
            return None
    if day <= today or day > today + timedelta(days=MAX_DEFER_DAYS):
        return None
    return day


WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def _date_buttons(context: HouqinContext, ticket_id: int) -> InlineKeyboardMarkup:
    services = context.services
    calendar = services.profile.calendar
    day = services.local_now().date()
    days: list[date] = []
    while len(days) < 4:
        day = calendar.next_working_day(day, include=False)
        days.append(day)
    row = [
        button(f"{d:%m-%d} {context._(WEEKDAYS[d.weekday()])}", DeferDateButton(ticket_id, d))
        for d in days
    ]
    return keyboard([row[:2], row[2:]])


async def _say(update: Update, context: HouqinContext, text: str) -> None:
    user = update.effective_user
    assert user is not None
    await context.bot.send_message(user.id, text)


async def _say_moved_on(update: Update, context: HouqinContext, ticket: Ticket) -> None:
    async with context.services.database.reading() as session:
        holder = await told.holder_name(session, ticket)
    status = told.status_line(ticket, holder, context.services.now(), context._)
    await _say(
        update,
        context,
        context._("Nothing changed: {number} is now {status}.").format(
            number=esc(ticket.number), status=status
        ),
    )


async def _told_outcome(
    update: Update, context: HouqinContext, change: act.Change, done: Callable[[Ticket], str]
) -> object:
    """After the form's input was committed: say what it did (`done`, of the changed ticket),
    or where the ticket is now when it had moved on; the form ends."""
    if change.changed:
        await _say(update, context, done(change.ticket))
    else:
        await _say_moved_on(update, context, change.ticket)
    return end_act(context)


async def _finish_defer(
    update: Update, context: HouqinContext, draft: ActDraft, day: date
) -> object:
    services = context.services
    _ = context._
    person = context.person
    if person is None:
        return end_act(context)
    try:
        change = await act.defer(context.bot, services, draft.id, person, draft.reason or "", day)
    except (act.NotAllowed, ValueError):
        return await end_form(
            update, context, ACT_DRAFT, _("Nothing changed: the job is no longer yours to defer.")
        )

    def deferred(ticket: Ticket) -> str:
        assert ticket.deferred_until is not None
        return _("Deferred to {time}; the reporter has been told why.").format(
            time=told.local_time(services, ticket.deferred_until)
        )

    return await _told_outcome(update, context, change, deferred)


async def _finish_done(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    """The last step of 维修完成: the result, note or photo or voice note, materials and hours
    are committed at once; then the worker is told."""
    person = context.person
    _ = context._
    if person is None:
        return end_act(context)
    voice = act.Voice(draft.voice, draft.voice_seconds) if draft.voice else None
    try:
        change = await act.complete(
            context.bot,
            context.services,
            draft.id,
            person,
            result=draft.result or "fixed",
            note=draft.note,
            photo=draft.photo,
            voice=voice,
            materials=[MaterialLine.from_dict(line) for line in draft.materials],
            hours=Decimal(draft.hours) if draft.hours else None,
        )
    except (act.NotAllowed, ValueError):
        return await end_form(
            update, context, ACT_DRAFT, _("Nothing changed: the job is no longer yours.")
        )
    materials = [MaterialLine.from_dict(line) for line in draft.materials]
    hours = Decimal(draft.hours) if draft.hours else None

    def done(ticket: Ticket) -> str:
        said = _("{number} is done. The reporter has been asked to accept it.").format(
            number=esc(ticket.number)
        )
        return "\n".join([said, *cost_summary(materials, hours, _)])

    return await _told_outcome(update, context, change, done)


async def _finish_with_reason(
    update: Update, context: HouqinContext, draft: ActDraft, reason: str
) -> object:
    _ = context._
    move = {"rw": Move.REWORK, "rej": Move.REJECT, "xfer": Move.RELEASE}[draft.action]
    actor = actor_of(update, context)
    try:
        change = await act.with_reason(context.bot, context.services, draft.id, move, actor, reason)
    except act.NotAllowed:
        return await end_form(
            update, context, ACT_DRAFT, _("Nothing changed: you can no longer do that.")
        )
    done = {
        "rw": _("Sent back for rework; the worker has been told."),
        "rej": _("Returned; the reporter has been told why."),
        "xfer": _("Handed back to the repair group."),
    }[draft.action]
    return await _told_outcome(update, context, change, lambda _ticket: done)


async def act_cancel(update: Update, context: HouqinContext) -> object:
    """/cancel during the act form."""
    return await end_form(update, context, ACT_DRAFT, context._("Stopped. Nothing was changed."))


# --- registration ------------------------------------------------------------------------------


def act_form() -> Form:
    """The act form: short, closed (not parked) when another form starts."""
    text = PRIVATE_INPUT & filters.TEXT
    others = MessageHandler(PRIVATE_INPUT, not_text)
    steps: dict[str, Sequence[AnyHandler]] = {
        "result": [
            on_button(ResultButton, result_chosen),
            MessageHandler(PRIVATE_INPUT, result_typed),
        ],
        "note": [
            on_button(SkipButton, skip_pressed),
            MessageHandler(
                PRIVATE_INPUT & (filters.TEXT | filters.PHOTO | filters.VOICE),
                _with_draft(note_given),
            ),
            others,
        ],
        **costs_steps(_finish_done),
        "reason": [MessageHandler(text, _with_draft(reason_given)), others],
        "date": [
            on_button(DeferDateButton, date_chosen),
            MessageHandler(text, _with_draft(date_typed)),
            others,
        ],
        "comment": [
            on_button(SkipButton, skip_pressed),
            MessageHandler(text, _with_draft(comment_given)),
            others,
        ],
    }
    return Form(
        name="ticket_act",
        title=N_("repair job input"),
        entry_points=[
            on_button(TicketButton, act_entry, when=lambda data: data.move in ACT_NAMES),
            on_button(RatingButton, rate_button),
        ],
        steps=steps,
        cancel=act_cancel,
        resume_hint=None,
        drafts=(ACT_DRAFT,),
    )
