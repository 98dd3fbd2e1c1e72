"""The day's work log form (工作日志) and /mylogs.

/log [date], the 📝 menu button and a reminder's button open the form of a day: the post
duties, the bot's draft of the day (or the filed log being edited), then items line by line,
photos and hours, and ✅ Save. The form is one message, edited in place as lines, photos and
hours come (a long paste is one edit, not a form re-sent per message). The unsaved log is a
typed draft in user_data ("worklog_form"), so a restart resumes it, and another form (a repair
report, a post-duties draft) parks it: /log (or 📝) goes on with it, whatever its day. Opening
another day's form from within the log form puts the unsaved one aside.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from pydantic import BaseModel
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import CommandHandler, MessageHandler, filters

from actions import worklogs as actions
from handlers.buttons import on_button
from handlers.common import end_form, private_chat, reply, require_role
from handlers.context import HouqinContext
from handlers.forms import (
    END,
    Form,
    active_form,
    drop_draft,
    load_draft,
    opening,
    save_draft,
)
from handlers.menu import COMMANDS, menu_filter
from notices import worklogs as notices
from notices.render import edit_or_ignore, send_long
from notices.worklogs import LogDayButton, LogFormAction, LogFormButton, LogSheet
from school.i18n import LANGUAGES, N_, translator
from storage import post_duties, worklogs
from storage.models import Person, Role
from storage.worklogs import Access, SaveProblem

log = logging.getLogger(__name__)

NAME = "log"  # the form's name
TITLE = N_("work log")
RESUME_HINT = N_("Send /log to go on with it.")
DRAFT = "worklog_form"  # user_data key of the unsaved log
ITEMS, HOURS = "items", "hours"  # the form's steps
NOT_OPEN = N_("This form is no longer open. Send /log to start again.")
_BULLET = re.compile(r"^\s*(?:[-*•·]\s+|\d{1,3}\s*[.、)）]\s*)")
_REMOVE = re.compile(r"^\s*-\s*(\d{1,3})\s*$")
_HOURS = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2})?)\s*(?:h|hr|hrs|hours?|小时|个小时|时)?\s*$", re.I)


class LogDraft(BaseModel):
    """The unsaved log of a day (the field names of the earlier dict, so a form in progress
    during the upgrade resumes)."""

    day: date
    mode: Access = Access.NEW
    items: list[worklogs.LogItem] = []
    photos: list[str] = []
    hours: float | None = None
    filed_at: str | None = None  # 'HH:MM' of the filed log being edited
    prefilled: bool = False  # the items are the bot's draft of the day
    view: int | None = None  # the message showing the draft, edited in place as lines come


# --- input filters -----------------------------------------------------------------------------


def menu_texts() -> list[str]:
    """Every reply-keyboard label in every language (never taken as form input)."""
    labels = {
        translator(language)(row.menu_label)
        for row in COMMANDS
        if row.menu_label
        for language in LANGUAGES
    }
    return sorted(labels)


def private_text() -> filters.BaseFilter:
    """Text typed in the private chat: not a command, not a menu button."""
    return filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.Text(menu_texts())


def private_other() -> filters.BaseFilter:
    """Anything else sent in the private chat (stickers, voice, files…)."""
    other = filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL
    return other & ~filters.Text(menu_texts())


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


# --- opening -----------------------------------------------------------------------------------


async def open_log(update: Update, context: HouqinContext) -> object:
    """/log [date] or the 📝 menu button: open (or go on with) a day's log form."""
    _ = context._
    if not private_chat(update):
        await reply(update, context, _("Write your work log in a private chat with me."))
        return None
    person = await require_role(update, context, {Role.STAFF})
    if person is None:
        return None
    services = context.services
    day = services.local_now().date()
    if context.args:
        parsed = worklogs.parse_day(" ".join(context.args), day)
        if parsed is None:
            await reply(
                update, context, _("I could not read that date. Use /log 2026-11-20 or /log 11-20.")
            )
            return None
        day = parsed
    elif (parked := _parked(context)) is not None:
        day = parked.day  # "Send /log to go on with it": the log put aside, whatever its day
    return await _open(update, context, person, day)


def _parked(context: HouqinContext) -> LogDraft | None:
    """The unsaved log put aside by another form (or left by a restart), while it can still
    be saved; None when the person is in the log form itself."""
    draft = load_draft(context, DRAFT, LogDraft)
    if draft is None or active_form(context) == NAME:
        return None
    services = context.services
    rule = worklogs.access(
        services.profile, draft.day, exists=draft.mode == Access.EDIT, now=services.now()
    )
    return draft if rule.writable else None


async def open_log_button(update: Update, context: HouqinContext, data: LogDayButton) -> object:
    """A reminder's or /mylogs' button: open (or go on with) that day's log form."""
    query = update.callback_query
    assert query is not None
    person = await require_role(update, context, {Role.STAFF})
    if person is None:
        return None
    await query.answer()
    return await _open(update, context, person, data.day)


async def _open(update: Update, context: HouqinContext, person: Person, day: date) -> object:
    assert person.id is not None
    _ = context._
    services = context.services
    draft = load_draft(context, DRAFT, LogDraft)
    resuming = draft is not None and draft.day == day
    async with services.database.reading() as session:
        existing = await worklogs.get_log(session, person.id, day)
        rule = worklogs.access(
            services.profile, day, exists=existing is not None, now=services.now()
        )
        facts = (
            await worklogs.day_activity(session, person.id, day, services.profile.tz)
            if existing is None and rule.writable and not resuming
            else []
        )
    if not rule.writable:
        refusal = notices.access_refusal(rule, day, existing, services, _)
        await send_long(context.bot, _chat_id(update), refusal)
        if resuming:
            drop_draft(context, DRAFT)
            return END
        return None  # whatever form the person is in stays as it was
    await opening(context)
    filed_at = (
        existing.filed_at.astimezone(services.settings.tz).strftime("%H:%M")
        if existing is not None
        else None
    )
    prefilled: list[worklogs.LogItem] = []
    if draft is not None and resuming:
        draft.mode, draft.filed_at = rule, filed_at  # the rules as they are now
    else:
        if draft is not None and draft.items:
            await context.bot.send_message(
                _chat_id(update),
                _("Your unsaved log for {day} was put aside.").format(
                    day=notices.day_label(draft.day, _)
                ),
            )
        prefilled = [worklogs.fact_item(fact) for fact in facts]
        draft = LogDraft(
            day=day,
            mode=rule,
            items=list(existing.items) if existing is not None else prefilled,
            photos=list(existing.photos) if existing is not None else [],
            hours=existing.hours if existing is not None else None,
            filed_at=filed_at,
            prefilled=existing is None and bool(prefilled),
        )
    await _show(update, context, draft, fresh=True)
    return ITEMS


async def _show(
    update: Update, context: HouqinContext, draft: LogDraft, *, fresh: bool = False
) -> None:
    """Keep the draft and show it: in a new message when the form opens (`fresh`), else by
    editing the form's message in place, so a person adding lines gets no message per line."""
    services = context.services
    person = context.person
    approved = None
    if person is not None and person.id is not None:
        async with services.database.reading() as session:
            approved = await post_duties.approved_duties(session, person.id)
    duties, is_approved = notices.duties_for(services, person, approved) if person else ([], False)
    sheet = LogSheet(
        day=draft.day,
        mode=draft.mode,
        items=draft.items,
        photos=len(draft.photos),
        hours=draft.hours,
        filed_at=draft.filed_at,
        duties=duties,
        duties_approved=is_approved,
        prefilled=draft.prefilled,
    )
    text = notices.log_form_text(sheet, services, context._)
    markup = notices.log_form_keyboard(draft.day, context._)
    chat_id = _chat_id(update)
    if not fresh and draft.view is not None:
        try:
            await edit_or_ignore(
                context.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=draft.view, reply_markup=markup
                )
            )
        except BadRequest as exc:  # the form's message is gone: show the form anew
            log.info("the log form's message %s could not be edited: %s", draft.view, exc)
        else:
            save_draft(context, DRAFT, draft)
            return
    sent = await context.bot.send_message(chat_id, text, reply_markup=markup)
    draft.view = sent.message_id
    save_draft(context, DRAFT, draft)


# --- the steps ---------------------------------------------------------------------------------


async def _draft_or_closed(update: Update, context: HouqinContext) -> LogDraft | None:
    draft = load_draft(context, DRAFT, LogDraft)
    if draft is None:
        await reply(update, context, context._(NOT_OPEN))
    return draft


async def _fits(
    update: Update, context: HouqinContext, items: list[worklogs.LogItem], added: list[str]
) -> bool:
    total = sum(worklogs.item_length(i) for i in [*items, *added])
    if len(items) + len(added) <= worklogs.MAX_ITEMS and total <= worklogs.MAX_LOG_CHARS:
        return True
    await reply(
        update,
        context,
        context._(
            "That would make the log too long (at most {items} items and {chars} "
            "characters); this message was not added. Shorten it or remove some items."
        ).format(items=worklogs.MAX_ITEMS, chars=worklogs.MAX_LOG_CHARS),
    )
    return False


def _lines(text: str) -> list[str]:
    """Typed lines without their bullets or numbers, empty ones left out."""
    lines = [_BULLET.sub("", line).strip() for line in text.splitlines()]
    return [line for line in lines if line]


async def add_items(update: Update, context: HouqinContext) -> object:
    """Items typed into the form: one per line; "-2" removes item 2."""
    message = update.effective_message
    assert message is not None and message.text is not None
    _ = context._
    draft = await _draft_or_closed(update, context)
    if draft is None:
        return END
    removal = _REMOVE.match(message.text)
    if removal:
        number = int(removal.group(1))
        if not 1 <= number <= len(draft.items):
            await reply(update, context, _("There is no item {n}.").format(n=number))
            return ITEMS
        draft.items.pop(number - 1)
    else:
        added = _lines(message.text)
        if not added:
            await reply(update, context, _("Send what you did as text, one item per line."))
            return ITEMS
        if not await _fits(update, context, draft.items, added):
            return ITEMS
        draft.items.extend(added)
    save_draft(context, DRAFT, draft)
    await _show(update, context, draft)
    return ITEMS


async def add_photo(update: Update, context: HouqinContext) -> object:
    """A photo for the log; its caption lines become items."""
    message = update.effective_message
    assert message is not None and message.photo
    _ = context._
    draft = await _draft_or_closed(update, context)
    if draft is None:
        return END
    if len(draft.photos) >= worklogs.MAX_PHOTOS:
        await reply(
            update,
            context,
            _("A log holds at most {count} photos; this one was not added.").format(
                count=worklogs.MAX_PHOTOS
            ),
        )
        return ITEMS
    caption = _lines(message.caption or "")
    if caption and not await _fits(update, context, draft.items, caption):
        return ITEMS
    draft.photos.append(message.photo[-1].file_id)
    draft.items.extend(caption)
    save_draft(context, DRAFT, draft)
    if not draft.items:
        await reply(
            update,
            context,
            _("Photo added. A log also needs at least one line of text: what did you do?"),
        )
        return ITEMS
    await _show(update, context, draft)
    return ITEMS


async def other_input(update: Update, context: HouqinContext) -> object:
    """Stickers, voice, files… in the log form: say what it expects."""
    await reply(
        update,
        context,
        context._(
            "I can only take text and photos for the log. Send what you did as text, one item "
            "per line, then press Save (or /cancel)."
        ),
    )
    return ITEMS if load_draft(context, DRAFT, LogDraft) is not None else END


HOURS_PLEASE = N_("Send the hours as a number between 0 and 24, e.g. 8 or 7.5 (0 clears it).")


async def set_hours(update: Update, context: HouqinContext) -> object:
    """The hours worked, typed after pressing ⏱."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = await _draft_or_closed(update, context)
    if draft is None:
        return END
    match = _HOURS.match(message.text)
    hours = float(match.group(1)) if match else -1.0
    if not 0 <= hours <= worklogs.MAX_HOURS:
        await reply(update, context, context._(HOURS_PLEASE))
        return HOURS
    draft.hours = hours or None
    save_draft(context, DRAFT, draft)
    await _show(update, context, draft)
    return ITEMS


async def hours_other(update: Update, context: HouqinContext) -> object:
    """Anything but text while hours are expected."""
    await reply(update, context, context._(HOURS_PLEASE))
    return HOURS


async def form_button(update: Update, context: HouqinContext, data: LogFormButton) -> object:
    """Save, remove last, clear, hours or cancel on the log form."""
    query = update.callback_query
    assert query is not None
    _ = context._
    person = await require_role(update, context, {Role.STAFF})
    if person is None:
        return None
    draft = load_draft(context, DRAFT, LogDraft)
    if draft is None or draft.day != data.day:
        await query.answer(_(NOT_OPEN), show_alert=True)
        return ITEMS if draft is not None else END
    action = data.action
    if action == LogFormAction.SAVE:
        return await _save(update, context, person, draft)
    if action == LogFormAction.CANCEL:
        drop_draft(context, DRAFT)
        await query.answer()
        await context.bot.send_message(_chat_id(update), _("The log was not saved."))
        return END
    if action == LogFormAction.HOURS:
        await query.answer()
        await context.bot.send_message(
            _chat_id(update),
            _("How many hours did you work? Send a number, e.g. 8 or 7.5 (0 clears it)."),
        )
        return HOURS
    if action == LogFormAction.UNDO:
        if not draft.items:
            await query.answer(_("There is nothing to remove."), show_alert=True)
            return ITEMS
        draft.items.pop()
    else:  # CLEAR
        draft.items, draft.photos, draft.hours = [], [], None
    save_draft(context, DRAFT, draft)
    await query.answer()
    await _show(update, context, draft)
    return ITEMS


async def _save(update: Update, context: HouqinContext, person: Person, draft: LogDraft) -> object:
    query = update.callback_query
    assert query is not None and person.id is not None
    _ = context._
    services = context.services
    try:
        saved = await actions.save_log(
            services,
            person_id=person.id,
            day=draft.day,
            items=draft.items,
            photos=draft.photos,
            hours=draft.hours,
        )
    except SaveProblem as problem:
        if problem.reason == "empty":
            await query.answer(
                _("The log is empty: write at least one item, then press Save."), show_alert=True
            )
            return ITEMS
        if problem.reason in ("too_long", "too_many_photos", "hours"):
            await query.answer(_("The log is too long; remove some items."), show_alert=True)
            return ITEMS
        await query.answer()
        drop_draft(context, DRAFT)
        refusal = notices.access_refusal(
            Access(problem.reason), draft.day, problem.log, services, _
        )
        await send_long(context.bot, _chat_id(update), refusal)
        return END
    drop_draft(context, DRAFT)
    await query.answer(_("Saved."))
    await send_long(context.bot, _chat_id(update), notices.saved_text(saved, services, _))
    return END


async def cancel_log(update: Update, context: HouqinContext) -> object:
    """/cancel in the log form: nothing is saved."""
    return await end_form(update, context, DRAFT, context._("The log was not saved."))


async def button_outside_the_form(
    update: Update, context: HouqinContext, data: LogFormButton
) -> None:
    """A log form button pressed while the form is not open: parked (say how to go on with
    it) or closed."""
    query = update.callback_query
    assert query is not None
    _ = context._
    draft = load_draft(context, DRAFT, LogDraft)
    if draft is not None and draft.day == data.day:
        text = _("Your {form} is put aside. {how}").format(form=_(TITLE), how=_(RESUME_HINT))
    else:
        text = _(NOT_OPEN)
    await query.answer(text, show_alert=True)


# --- /mylogs -----------------------------------------------------------------------------------


async def mylogs(update: Update, context: HouqinContext) -> None:
    """/mylogs: one's recent logs, with buttons for today and for days still open for 补交."""
    person = await require_role(update, context, {Role.STAFF})
    if person is None:
        return
    services = context.services
    async with services.database.reading() as session:
        text, markup = await notices.my_logs(session, services, person, context._)
    await send_long(context.bot, _chat_id(update), text, markup)


# --- the form ----------------------------------------------------------------------------------


def log_form() -> Form:
    """The day's log, for the form owner (handlers.forms)."""
    buttons = on_button(LogFormButton, form_button)
    return Form(
        name=NAME,
        title=TITLE,
        entry_points=[
            CommandHandler("log", open_log),
            MessageHandler(menu_filter("log"), open_log),
            on_button(LogDayButton, open_log_button),
        ],
        steps={
            ITEMS: [
                MessageHandler(private_text(), add_items),
                MessageHandler(filters.ChatType.PRIVATE & filters.PHOTO, add_photo),
                buttons,
                MessageHandler(private_other(), other_input),
            ],
            HOURS: [
                MessageHandler(private_text(), set_hours),
                buttons,
                MessageHandler(private_other(), hours_other),
            ],
        },
        cancel=cancel_log,
        resume_hint=RESUME_HINT,
        drafts=(DRAFT,),
    )
