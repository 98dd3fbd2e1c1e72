"""Meter readings (节约): the readings form and the director's one-tap leak ticket.

The reading day's message (or /readings) opens the form: one message with every value
("水表1 1234.5 电表1 56789"), a photo of a meter optional (as a photo with the values as its
caption, or before them). A value lower than the last reading, or far above the usual use, is
questioned (✅ keep / ✏️ enter again) and nothing is saved until the reader decides. The draft
(day, values, photo) is kept in user_data, so a restart resumes the form.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from actions import meters as act
from handlers.buttons import on_button
from handlers.common import allowed_press, end_form, private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, Form, drop_draft, load_draft, opening, save_draft
from handlers.worklog_form import private_other, private_text
from notices import meters as notices
from notices import outbox
from notices.meters import Answer, LeakTicketButton, QuestionButton, ReadingsButton
from notices.render import edit_or_ignore, esc, send_long
from school.i18n import N_
from school.profile_energy import Meter
from storage import meter_rules as rules
from storage.models import Person, Role

NAME = "readings"
VALUES, CONFIRM = "values", "confirm"
DRAFT = "meter_readings"
MAX_TEXT = 500
READERS = {Role.STAFF, Role.DIRECTOR}
VALUES_PLEASE = N_("Send the values as text, e.g. 水表1 1234.5 (/cancel to stop).")


class ReadingsDraft(BaseModel):
    """The readings being entered: the day, the values read so far, a photo."""

    day: date
    values: dict[str, float] = {}
    photo: str | None = None


def _meters(context: HouqinContext, person: Person) -> list[Meter]:
    energy = context.services.profile.energy
    if Role(person.role) == Role.DIRECTOR:
        return list(energy.meters)
    return energy.meters_of_post(person.post_key)


def _chat(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def _open(update: Update, context: HouqinContext, day: date) -> object:
    person = await require_role(update, context, READERS)
    if person is None:
        return None
    _ = context._
    meters = _meters(context, person)
    if not meters:
        await reply(update, context, _("You have no meters to read."))
        return None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await opening(context)
    save_draft(context, DRAFT, ReadingsDraft(day=day))
    last = await act.last_readings(context.services, meters, day)
    text = notices.prompt(context.services.profile, meters, last, day, _)
    await send_long(context.bot, _chat(update), text)
    return VALUES


async def readings_command(update: Update, context: HouqinContext) -> object:
    """/readings: today's readings."""
    if not private_chat(update):
        await reply(update, context, context._("Enter readings in a private chat with me."))
        return None
    return await _open(update, context, context.services.local_now().date())


async def readings_button(update: Update, context: HouqinContext, data: ReadingsButton) -> object:
    """The reading day's button."""
    return await _open(update, context, data.day)


async def values_sent(update: Update, context: HouqinContext) -> object:
    """The values (a photo's caption counts; a photo alone is kept for them)."""
    message = update.effective_message
    assert message is not None
    person = context.person
    draft = load_draft(context, DRAFT, ReadingsDraft)
    if person is None or draft is None:
        return END
    _ = context._
    if message.photo:
        draft.photo = message.photo[-1].file_id
        save_draft(context, DRAFT, draft)
        if not message.caption:
            await reply(update, context, _("Photo kept. Now send the values."))
            return VALUES
    text = (message.text or message.caption or "").strip()
    if len(text) > MAX_TEXT:
        await reply(update, context, _("That is too long. Send only the meter names and values."))
        return VALUES
    meters = _meters(context, person)
    names = {name: m.key for m in meters for name in m.names}
    parsed = rules.parse_readings(text, names)
    if parsed.unknown or not parsed.values:
        unread = "、".join(esc(u) for u in parsed.unknown) or esc(text)
        await reply(
            update,
            context,
            _(
                "I could not read: {what}. Write each meter's name and its value, e.g. {example}."
            ).format(what=unread, example=esc(f"{meters[0].name} 1234.5")),
        )
        return VALUES
    draft.values = parsed.values
    save_draft(context, DRAFT, draft)
    return await _submit(update, context, person, draft, confirmed=False)


async def _submit(
    update: Update, context: HouqinContext, person: Person, draft: ReadingsDraft, *, confirmed: bool
) -> object:
    _ = context._
    services = context.services
    done = await act.submit(
        services, person, draft.day, draft.values, photo=draft.photo, confirmed=confirmed
    )
    if done.questioned:
        await context.bot.send_message(
            _chat(update),
            notices.questions_text(services.profile, done.questioned, _),
            reply_markup=notices.questions_markup(_),
        )
        return CONFIRM
    outbox.deliver_soon(context.bot, services)
    drop_draft(context, DRAFT)
    await context.bot.send_message(
        _chat(update), notices.saved_text(services.profile, done.saved, done.use, _)
    )
    return END


async def question_answered(update: Update, context: HouqinContext, data: QuestionButton) -> object:
    """✅ keep the questioned values, or ✏️ enter them again."""
    query = update.callback_query
    assert query is not None
    person = context.person
    draft = load_draft(context, DRAFT, ReadingsDraft)
    if person is None or draft is None or not draft.values:
        await query.answer(context._("This form is no longer open."), show_alert=True)
        return END
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    if data.answer == Answer.RETRY:
        await context.bot.send_message(_chat(update), context._("Send the values again."))
        return VALUES
    return await _submit(update, context, person, draft, confirmed=True)


async def other_input(update: Update, context: HouqinContext) -> object:
    """Stickers, voice, files: the values are wanted as text."""
    await reply(update, context, context._(VALUES_PLEASE))
    return None


async def cancelled(update: Update, context: HouqinContext) -> object:
    return await end_form(update, context, DRAFT, context._("Cancelled. Nothing was saved."))


async def leak_ticket(update: Update, context: HouqinContext, data: LeakTicketButton) -> None:
    """The director's one tap: the alert's repair ticket, filed once."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    person = context.person
    if query is None or person is None:
        return
    _ = context._
    filed = await act.open_leak_ticket(context.services, data.alert_id, person)
    if filed is None:
        await query.answer(_("This alert no longer exists."), show_alert=True)
        return
    number = filed.ticket.number
    if filed.created:
        text = _("Repair ticket {number} filed.").format(number=number)
    else:
        text = _("Repair ticket {number} was already filed.").format(number=number)
    await query.answer(text)
    await edit_or_ignore(query.edit_message_reply_markup(None))
    await context.bot.send_message(_chat(update), text)
    outbox.deliver_soon(context.bot, context.services)


def forms() -> list[Form]:
    """The readings form, for the form owner."""
    photo = filters.ChatType.PRIVATE & filters.PHOTO
    return [
        Form(
            name=NAME,
            title=N_("meter readings"),
            entry_points=[
                CommandHandler("readings", readings_command),
                on_button(ReadingsButton, readings_button),
            ],
            steps={
                VALUES: [
                    MessageHandler(private_text() | photo, values_sent),
                    MessageHandler(private_other(), other_input),
                ],
                CONFIRM: [
                    on_button(QuestionButton, question_answered),
                    MessageHandler(private_text() | photo, values_sent),
                    MessageHandler(private_other(), other_input),
                ],
            },
            cancel=cancelled,
            drafts=(DRAFT,),
        )
    ]


def register(application: HouqinApp) -> None:
    """The leak-ticket button (outside the form)."""
    application.add_handler(on_button(LeakTicketButton, leak_ticket))
