"""Work logs (工作日志): the /log form, /mylogs and /duties for staff; /logs, /leave, /ledger
and the post-duties review for the director.

One persistent form ("worklogs") holds every multi-step flow of the feature, so a person is
never inside two of them at once: the day's log (items, photos, hours), a post-duties draft
and a director's comment when returning a draft.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers.common import private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import Form
from handlers.menu import COMMANDS, menu_filter
from notices import outbox
from notices.export import MAX_LEDGER_DAYS, ledger_filename, ledger_workbook
from notices.render import button, esc, keyboard, language_of, split_text
from notices.services import Services
from school.i18n import LANGUAGES, N_, translator
from storage import people, worklogs
from storage.models import Person, PostDuties, Role, WorkLog
from storage.stats import Month
from storage.worklogs import Access, FinishedJob, FinishedRound, SaveProblem

log = logging.getLogger(__name__)

# Conversation states (persisted as JSON: plain ints).
ITEMS, HOURS, DUTIES_TEXT, RETURN_COMMENT = 1, 2, 3, 4
FORM = "worklog_form"  # user_data key of the open log form
DUTIES_RETURN = "worklog_duties_return"  # user_data key: the draft being returned

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
RESULT_LABELS = {  # the repair results, as the tickets feature names them
    "fixed": N_("Fixed"),
    "replaced": N_("Replaced with a new one"),
    "unfixable": N_("Cannot be fixed"),
}
DONE_LABEL = N_("done")
RECENT_LOGS = 10
HISTORY_LOGS = 15
DAY_FORMAT = "%Y%m%d"
_BULLET = re.compile(r"^\s*(?:[-*•·]\s+|\d{1,3}\s*[.、)）]\s*)")
_REMOVE = re.compile(r"^\s*-\s*(\d{1,3})\s*$")
_HOURS = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2})?)\s*(?:h|hr|hrs|hours?|小时|个小时|时)?\s*$", re.I)


# --- small helpers -------------------------------------------------------------------------


def _menu_texts() -> list[str]:
    """Every reply-keyboard label in every language (never taken as log items)."""
    labels = {
        translator(language)(row.menu_label)
        for row in COMMANDS
        if row.menu_label
        for language in LANGUAGES
    }
    return sorted(labels)


def day_label(day: date, _: Callable[[str], str]) -> str:
    """'2026-11-23 (Mon)' in the reader's language."""
    return f"{day.isoformat()} ({_(WEEKDAYS[day.weekday()])})"


def _today(services: Services) -> date:
    return services.local_now().date()


def _cutoff_text(services: Services) -> str:
    return services.profile.worklog.cutoff_time.strftime("%H:%M")


def activity_lines(
    facts: Sequence[FinishedJob | FinishedRound], services: Services, _: Callable[[str], str]
) -> list[str]:
    """Draft items from what the bot knows: "维修：BX-2611-007 实验楼3楼女厕 水暖 已修复"."""
    profile = services.profile
    lines = []
    for fact in facts:
        if isinstance(fact, FinishedJob):
            try:
                category = profile.category(fact.category_key).name
            except KeyError:
                category = fact.category_key
            result = _(RESULT_LABELS.get(fact.result or "", DONE_LABEL))
            lines.append(
                _("Repair: {number} {place} {category} {result}").format(
                    number=fact.number, place=fact.place, category=category, result=result
                )
            )
        else:
            try:
                plan = profile.inspection_plan(fact.plan_key).name
            except KeyError:
                plan = fact.plan_key
            lines.append(_("Inspection: {plan}").format(plan=plan))
    return lines


def duties_for(
    services: Services, person: Person, approved: PostDuties | None
) -> tuple[list[str], bool]:
    """(duty lines, approved?) — the approved draft, else the profile's post duties."""
    if approved is not None:
        return worklogs.duties_lines(approved.text), True
    try:
        post = services.profile.post(person.post_key) if person.post_key else None
    except KeyError:
        post = None
    return (list(post.duties) if post is not None else []), False


def render_log(
    log_: WorkLog, services: Services, _: Callable[[str], str], *, name: str | None = None
) -> str:
    """A filed log as HTML: day, late mark, numbered items, photos, hours and filing time."""
    head = f"<b>{esc(name)}</b> · " if name else ""
    head += f"<b>{day_label(log_.day, _)}</b>"
    if log_.late:
        head += " · " + _("⏰ late (补交)")
    lines = [head]
    lines += [f"{n}. {esc(item)}" for n, item in enumerate(log_.items, start=1)]
    extras = []
    if log_.photos:
        extras.append(_("📷 {count} photo(s)").format(count=len(log_.photos)))
    if log_.hours is not None:
        extras.append(_("⏱ {hours} h").format(hours=f"{log_.hours:g}"))
    filed = log_.filed_at.astimezone(services.settings.tz)
    extras.append(_("filed {time}").format(time=filed.strftime("%m-%d %H:%M")))
    if log_.updated_at > log_.filed_at:
        updated = log_.updated_at.astimezone(services.settings.tz)
        extras.append(_("edited {time}").format(time=updated.strftime("%m-%d %H:%M")))
    lines.append(" · ".join(extras))
    return "\n".join(lines)


async def send_long(
    context: HouqinContext,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Send HTML text, split at line breaks when over Telegram's limit; buttons on the last."""
    chunks = split_text(text)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await context.bot.send_message(
            chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup if last else None
        )


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


# --- the log form ----------------------------------------------------------------------------


def _form(context: HouqinContext) -> dict[str, Any] | None:
    data = context.user_data.get(FORM) if context.user_data is not None else None
    return data if isinstance(data, dict) else None


def _form_day(form: dict[str, Any]) -> date:
    return date.fromisoformat(str(form["day"]))


def _form_keyboard(form: dict[str, Any], _: Callable[[str], str]) -> InlineKeyboardMarkup:
    key = _form_day(form).strftime(DAY_FORMAT)
    return keyboard(
        [
            [button(_("✅ Save"), f"wl:f:save:{key}")],
            [
                button(_("↩ Remove last"), f"wl:f:undo:{key}"),
                button(_("🗑 Clear"), f"wl:f:clear:{key}"),
            ],
            [
                button(_("⏱ Hours"), f"wl:f:hours:{key}"),
                button(_("✖ Cancel"), f"wl:f:cancel:{key}"),
            ],
        ]
    )


def _form_text(
    form: dict[str, Any],
    services: Services,
    _: Callable[[str], str],
    *,
    duties: Sequence[str] = (),
    duties_approved: bool = False,
    draft_count: int = 0,
) -> str:
    day = _form_day(form)
    lines = [_("📝 <b>Work log · {day}</b>").format(day=day_label(day, _))]
    if form.get("mode") == Access.LATE:
        lines.append(_("⏰ Late filing (补交): this log will be marked late."))
    elif form.get("mode") == Access.EDIT:
        lines.append(
            _("✏️ Editing the log you filed at {time}; changes are possible until {cutoff}.").format(
                time=form.get("filed_at", ""), cutoff=_cutoff_text(services)
            )
        )
    if not services.profile.calendar.is_working_day(day):
        lines.append(_("(Not a working day: a log is optional.)"))
    if duties:
        lines.append("")
        title = _("<b>Your post duties</b>") if duties_approved else _("<b>Post duties</b>")
        lines.append(title)
        lines += [f"• {esc(duty)}" for duty in duties]
    lines.append("")
    items: list[str] = form.get("items", [])
    if draft_count:
        lines.append(_("<b>Items</b> (pre-filled from what I know you did today; edit as needed)"))
    else:
        lines.append(_("<b>Items</b>"))
    if items:
        lines += [f"{n}. {esc(item)}" for n, item in enumerate(items, start=1)]
    else:
        lines.append(_("(none yet)"))
    extras = []
    photos = form.get("photos", [])
    if photos:
        extras.append(_("📷 {count} photo(s)").format(count=len(photos)))
    if form.get("hours") is not None:
        extras.append(_("⏱ {hours} h").format(hours=f"{float(form['hours']):g}"))
    if extras:
        lines.append(" · ".join(extras))
    lines.append("")
    lines.append(
        _(
            "Send what you did, one item per line (several messages are fine); photos are "
            "welcome. Send -2 to remove item 2. Press Save when done."
        )
    )
    return "\n".join(lines)


async def _show_form(
    update: Update, context: HouqinContext, form: dict[str, Any], **extra: Any
) -> None:
    text = _form_text(form, context.services, context._, **extra)
    await send_long(context, _chat_id(update), text, _form_keyboard(form, context._))


async def _explain_access(
    update: Update,
    context: HouqinContext,
    rule: Access,
    day: date,
    existing: WorkLog | None,
) -> None:
    _ = context._
    services = context.services
    label = day_label(day, _)
    if rule == Access.FUTURE:
        text = _("{day} has not come yet; logs are written on the day or later.").format(day=label)
    elif rule == Access.TOO_OLD:
        text = _(
            "The log of {day} can no longer be filed: late filing (补交) is possible for "
            "{days} day(s) only. Ask the logistics director if this is a mistake."
        ).format(day=label, days=services.profile.worklog.late_days)
    else:  # CLOSED
        text = _(
            "The log of {day} was filed and the cutoff ({cutoff}) has passed, so it can no "
            "longer be changed."
        ).format(day=label, cutoff=_cutoff_text(services))
        if existing is not None:
            text += "\n\n" + render_log(existing, services, _)
    await send_long(context, _chat_id(update), text)


async def open_form(update: Update, context: HouqinContext) -> int:
    """/log [date], the 📝 menu button or a reminder button: open a day's log form."""
    _ = context._
    query = update.callback_query
    if not private_chat(update):
        await reply(update, context, _("Write your work log in a private chat with me."))
        return ConversationHandler.END
    person = await require_role(update, context, {Role.STAFF})
    if person is None or person.id is None:
        return ConversationHandler.END
    services = context.services
    today = _today(services)
    day = today
    if query is not None:
        try:
            day = datetime.strptime(str(query.data).rsplit(":", 1)[1], DAY_FORMAT).date()
        except ValueError:
            await query.answer(
                _("This button has expired. Send /log to write your log."), show_alert=True
            )
            return ConversationHandler.END
        await query.answer()
    elif context.args:
        parsed = worklogs.parse_day(" ".join(context.args), today)
        if parsed is None:
            await reply(
                update,
                context,
                _("I could not read that date. Use /log 2026-11-20 or /log 11-20."),
            )
            return ConversationHandler.END
        day = parsed
    async with services.database.reading() as session:
        existing = await worklogs.get_log(session, person.id, day)
        rule = worklogs.access(
            services.profile, day, exists=existing is not None, now=services.now()
        )
        approved = await worklogs.approved_duties(session, person.id)
        facts = (
            await worklogs.day_activity(session, person.id, day, services.profile.tz)
            if existing is None and rule.writable
            else []
        )
    if not rule.writable:
        await _explain_access(update, context, rule, day, existing)
        return ConversationHandler.END
    assert context.user_data is not None
    previous = _form(context)
    if previous is not None and previous.get("day") != day.isoformat() and previous.get("items"):
        await context.bot.send_message(
            _chat_id(update),
            _("Your unsaved log for {day} was put aside.").format(
                day=day_label(_form_day(previous), _)
            ),
        )
    draft = activity_lines(facts, services, _)
    form: dict[str, Any] = {
        "day": day.isoformat(),
        "mode": rule.value,
        "items": list(existing.items) if existing is not None else draft,
        "photos": list(existing.photos) if existing is not None else [],
        "hours": existing.hours if existing is not None else None,
    }
    if existing is not None:
        form["filed_at"] = existing.filed_at.astimezone(services.settings.tz).strftime("%H:%M")
    context.user_data[FORM] = form
    context.user_data.pop(DUTIES_RETURN, None)
    duties, is_approved = duties_for(services, person, approved)
    await _show_form(
        update,
        context,
        form,
        duties=duties,
        duties_approved=is_approved,
        draft_count=len(draft),
    )
    return ITEMS


async def _form_or_stale(update: Update, context: HouqinContext) -> dict[str, Any] | None:
    form = _form(context)
    if form is None:
        await reply(
            update, context, context._("This form is no longer open. Send /log to start again.")
        )
    return form


async def form_text(update: Update, context: HouqinContext) -> int:
    """Items typed into the form: one per line; "-2" removes item 2."""
    message = update.effective_message
    assert message is not None and message.text is not None
    _ = context._
    form = await _form_or_stale(update, context)
    if form is None:
        return ConversationHandler.END
    items: list[str] = form.setdefault("items", [])
    removal = _REMOVE.match(message.text)
    if removal:
        number = int(removal.group(1))
        if not 1 <= number <= len(items):
            await reply(update, context, _("There is no item {n}.").format(n=number))
            return ITEMS
        items.pop(number - 1)
        await _show_form(update, context, form)
        return ITEMS
    added = [_BULLET.sub("", line).strip() for line in message.text.splitlines()]
    added = [line for line in added if line]
    if not added:
        await reply(update, context, _("Send what you did as text, one item per line."))
        return ITEMS
    if not await _fits(update, context, items, added):
        return ITEMS
    items.extend(added)
    await _show_form(update, context, form)
    return ITEMS


async def _fits(update: Update, context: HouqinContext, items: list[str], added: list[str]) -> bool:
    _ = context._
    total = sum(len(i) for i in items) + sum(len(i) for i in added)
    if len(items) + len(added) > worklogs.MAX_ITEMS or total > worklogs.MAX_LOG_CHARS:
        await reply(
            update,
            context,
            _(
                "That would make the log too long (at most {items} items and {chars} "
                "characters); this message was not added. Shorten it or remove some items."
            ).format(items=worklogs.MAX_ITEMS, chars=worklogs.MAX_LOG_CHARS),
        )
        return False
    return True


async def form_photo(update: Update, context: HouqinContext) -> int:
    """A photo for the log; its caption lines become items."""
    message = update.effective_message
    assert message is not None and message.photo
    _ = context._
    form = await _form_or_stale(update, context)
    if form is None:
        return ConversationHandler.END
    photos: list[str] = form.setdefault("photos", [])
    if len(photos) >= worklogs.MAX_PHOTOS:
        await reply(
            update,
            context,
            _("A log holds at most {count} photos; this one was not added.").format(
                count=worklogs.MAX_PHOTOS
            ),
        )
        return ITEMS
    items: list[str] = form.setdefault("items", [])
    caption = [_BULLET.sub("", line).strip() for line in (message.caption or "").splitlines()]
    caption = [line for line in caption if line]
    if caption and not await _fits(update, context, items, caption):
        return ITEMS
    photos.append(message.photo[-1].file_id)
    items.extend(caption)
    if not items:
        await reply(
            update,
            context,
            _("Photo added. A log also needs at least one line of text: what did you do?"),
        )
        return ITEMS
    await _show_form(update, context, form)
    return ITEMS


async def form_other(update: Update, context: HouqinContext) -> int:
    """Stickers, voice, files… in the log form: say what it expects."""
    await reply(
        update,
        context,
        context._(
            "I can only take text and photos for the log. Send what you did as text, one item "
            "per line, then press Save (or /cancel)."
        ),
    )
    state = ITEMS if _form(context) is not None else ConversationHandler.END
    return state


async def form_hours(update: Update, context: HouqinContext) -> int:
    """The hours worked, typed after pressing ⏱."""
    message = update.effective_message
    assert message is not None and message.text is not None
    _ = context._
    form = await _form_or_stale(update, context)
    if form is None:
        return ConversationHandler.END
    match = _HOURS.match(message.text)
    hours = float(match.group(1)) if match else -1.0
    if not 0 <= hours <= worklogs.MAX_HOURS:
        await reply(
            update,
            context,
            _("Send the hours as a number between 0 and 24, e.g. 8 or 7.5 (0 clears it)."),
        )
        return HOURS
    form["hours"] = hours or None
    await _show_form(update, context, form)
    return ITEMS


async def hours_other(update: Update, context: HouqinContext) -> int:
    """Anything but text while hours are expected."""
    await reply(
        update,
        context,
        context._("Send the hours as a number between 0 and 24, e.g. 8 or 7.5 (0 clears it)."),
    )
    return HOURS


async def form_button(update: Update, context: HouqinContext) -> int:
    """Save, remove last, clear, hours or cancel on the log form."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context._
    person = await require_role(update, context, {Role.STAFF})
    if person is None or person.id is None:
        return ConversationHandler.END
    _prefix, _f, action, key = query.data.split(":")
    form = _form(context)
    if form is None or _form_day(form).strftime(DAY_FORMAT) != key:
        await query.answer(
            _("This form is no longer open. Send /log to start again."), show_alert=True
        )
        return ITEMS if form is not None else ConversationHandler.END
    if action == "save":
        return await _save(update, context, person, form)
    items: list[str] = form.setdefault("items", [])
    if action == "undo":
        if not items:
            await query.answer(_("There is nothing to remove."), show_alert=True)
            return ITEMS
        items.pop()
    elif action == "clear":
        form.update(items=[], photos=[], hours=None)
    elif action == "hours":
        await query.answer()
        await context.bot.send_message(
            _chat_id(update),
            _("How many hours did you work? Send a number, e.g. 8 or 7.5 (0 clears it)."),
        )
        return HOURS
    elif action == "cancel":
        assert context.user_data is not None
        context.user_data.pop(FORM, None)
        await query.answer()
        await context.bot.send_message(_chat_id(update), _("The log was not saved."))
        return ConversationHandler.END
    await query.answer()
    await _show_form(update, context, form)
    return ITEMS


async def _save(
    update: Update, context: HouqinContext, person: Person, form: dict[str, Any]
) -> int:
    query = update.callback_query
    assert query is not None and person.id is not None and context.user_data is not None
    _ = context._
    services = context.services
    day = _form_day(form)
    try:
        async with services.database.transaction() as session:
            saved = await worklogs.save_log(
                session,
                person_id=person.id,
                day=day,
                items=form.get("items", []),
                photos=form.get("photos", []),
                hours=form.get("hours"),
                profile=services.profile,
                now=services.now(),
            )
    except SaveProblem as problem:
        if problem.reason == "empty":
            await query.answer(
                _("The log is empty: write at least one item, then press Save."),
                show_alert=True,
            )
            return ITEMS
        if problem.reason in ("too_long", "too_many_photos", "hours"):
            await query.answer(_("The log is too long; remove some items."), show_alert=True)
            return ITEMS
        await query.answer()
        context.user_data.pop(FORM, None)
        await _explain_access(update, context, Access(problem.reason), day, problem.log)
        return ConversationHandler.END
    context.user_data.pop(FORM, None)
    await query.answer(_("Saved."))
    if not saved.created:
        head = _("✅ Your log for {day} is updated.")
    elif saved.log.late:
        head = _("✅ Your log for {day} is saved as late filing (补交).")
    else:
        head = _("✅ Your log for {day} is saved.")
    text = head.format(day=day_label(day, _)) + "\n\n" + render_log(saved.log, services, _)
    if not saved.log.late:
        text += "\n" + _("You can change it with /log until {cutoff}.").format(
            cutoff=_cutoff_text(services)
        )
    await send_long(context, _chat_id(update), text)
    return ConversationHandler.END


async def cancel_form(update: Update, context: HouqinContext) -> int:
    """/cancel inside the feature's forms: nothing is saved."""
    assert context.user_data is not None
    had_log = context.user_data.pop(FORM, None) is not None
    context.user_data.pop(DUTIES_RETURN, None)
    text = context._("The log was not saved.") if had_log else context._("Cancelled.")
    await reply(update, context, text)
    return ConversationHandler.END


async def stale_form_button(update: Update, context: HouqinContext) -> None:
    """A form button pressed after the form was closed."""
    query = update.callback_query
    assert query is not None
    await query.answer(
        context._("This form is no longer open. Send /log to start again."), show_alert=True
    )


# --- /mylogs ---------------------------------------------------------------------------------


async def mylogs(update: Update, context: HouqinContext) -> None:
    """/mylogs: one's recent logs, with buttons for today and for days still open for 补交."""
    person = await require_role(update, context, {Role.STAFF})
    if person is None or person.id is None:
        return
    _ = context._
    services = context.services
    profile = services.profile
    today = _today(services)
    now = services.now()
    start = today - timedelta(days=profile.worklog.late_days)
    async with services.database.transaction() as session:
        recent = await worklogs.recent_logs(session, person.id, limit=RECENT_LOGS)
        window = await worklogs.logs_between(session, start, today, person_ids=[person.id])
        leaves = worklogs.leave_days(
            await worklogs.leaves_overlapping(session, start, today, person_ids=[person.id])
        )
    filed = {log_.day for log_ in window}
    rows: list[list[InlineKeyboardButton]] = []
    today_rule = worklogs.access(profile, today, exists=today in filed, now=now)
    if today_rule in (Access.NEW, Access.EDIT):
        label = _("📝 Write today's log") if today_rule == Access.NEW else _("✏️ Edit today's log")
        rows.append([button(label, f"wl:open:{today.strftime(DAY_FORMAT)}")])
    for day in profile.calendar.working_days(start, today):
        if day in filed or day in leaves.get(person.id, set()):
            continue
        if worklogs.access(profile, day, exists=False, now=now) == Access.LATE:
            rows.append(
                [
                    button(
                        _("⏰ File {day} late").format(day=day.strftime("%m-%d")),
                        f"wl:open:{day.strftime(DAY_FORMAT)}",
                    )
                ]
            )
    if recent:
        parts = [_("<b>Your recent work logs</b>")]
        parts += [render_log(log_, services, _) for log_ in recent]
        text = "\n\n".join(parts)
    else:
        text = _("You have not filed any work log yet. Send /log to write today's.")
    await send_long(context, _chat_id(update), text, keyboard(rows) if rows else None)


# --- the director: /logs, /leave, /ledger ----------------------------------------------------


def _names(persons: Sequence[Person]) -> str:
    return "、".join(esc(p.name) for p in persons)


async def logs_command(update: Update, context: HouqinContext) -> None:
    """/logs [date] shows a day; /logs <name> a person's history (director)."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    services = context.services
    today = _today(services)
    argument = " ".join(context.args or []).strip()
    day = worklogs.parse_day(argument, today) if argument else today
    if day is not None:
        await _show_day(update, context, day)
        return
    async with services.database.transaction() as session:
        found = await worklogs.find_staff(session, argument)
    if not found:
        await reply(
            update,
            context,
            esc(_("No staff member called {name}. Use /logs 2026-11-20 or /logs <name>.")).format(
                name=esc(argument)
            ),
            parse_mode=ParseMode.HTML,
        )
        return
    if len(found) > 1:
        await reply(
            update,
            context,
            _("Several people match {name}: {names}. Write the full name.").format(
                name=esc(argument), names=_names(found)
            ),
            parse_mode=ParseMode.HTML,
        )
        return
    await _show_history(update, context, found[0])


async def _show_day(update: Update, context: HouqinContext, day: date) -> None:
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        status = await worklogs.day_status(session, day, services.profile)
    lines = [_("📒 <b>Work logs of {day}</b>").format(day=day_label(day, _))]
    if not status.working:
        lines.append(_("(Not a working day.)"))
    late = [p for p, log_ in status.filed if log_.late]
    lines.append(
        _("Filed {filed} · late {late} · missing {missing} · on leave {leave}").format(
            filed=len(status.filed),
            late=len(late),
            missing=len(status.missing),
            leave=len(status.on_leave),
        )
    )
    for person, log_ in status.filed:
        lines.append("")
        lines.append(render_log(log_, services, _, name=person.name))
    if status.missing:
        lines.append("")
        lines.append(_("<b>Missing</b>: {names}").format(names=_names(status.missing)))
    if status.on_leave:
        lines.append(_("<b>On leave</b>: {names}").format(names=_names(status.on_leave)))
    if not status.filed and not status.missing and not status.on_leave:
        lines.append(_("No staff registered yet."))
    await send_long(context, _chat_id(update), "\n".join(lines))


async def _show_history(update: Update, context: HouqinContext, person: Person) -> None:
    assert person.id is not None
    _ = context._
    services = context.services
    today = _today(services)
    month = Month.of(today)
    async with services.database.transaction() as session:
        recent = await worklogs.recent_logs(session, person.id, limit=HISTORY_LOGS)
        stats = (await worklogs.month_stats(session, month, services.profile, today=today)).get(
            person.id
        )
    lines = [_("📒 <b>Work logs of {name}</b>").format(name=esc(person.name))]
    if stats is not None:
        lines.append(
            _(
                "{month}: {expected} working day(s) so far, {on_time} on time, {late} late, "
                "{missing} missing, {leave} on leave"
            ).format(
                month=month,
                expected=stats.expected_days,
                on_time=stats.on_time,
                late=stats.late,
                missing=stats.missing,
                leave=stats.leave_days,
            )
        )
    if recent:
        lines += ["", "\n\n".join(render_log(log_, services, _) for log_ in recent)]
    else:
        lines.append(_("No logs yet."))
    await send_long(context, _chat_id(update), "\n".join(lines))


def _split_leave_args(args: Sequence[str], today: date) -> tuple[str, list[date], str]:
    """'<name…> <from> [<to>] [reason…]' → (name, dates, reason)."""
    for index, arg in enumerate(args):
        first = worklogs.parse_day(arg, today)
        if first is None or index == 0:
            continue
        dates = [first]
        rest = list(args[index + 1 :])
        if rest and (second := worklogs.parse_day(rest[0], today)) is not None:
            dates.append(second)
            rest = rest[1:]
        return " ".join(args[:index]), dates, " ".join(rest)
    return " ".join(args), [], ""


async def leave_command(update: Update, context: HouqinContext) -> None:
    """/leave <name> <from> [<to>] [reason] (director); without arguments: current leave."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None:
        return
    _ = context._
    services = context.services
    today = _today(services)
    args = list(context.args or [])
    if not args:
        await _list_leave(update, context)
        return
    name, dates, reason = _split_leave_args(args, today)
    if not dates:
        await reply(
            update,
            context,
            _(
                "Write it as /leave <name> <from> <to>, e.g. /leave 李师傅 2026-11-24 "
                "2026-11-25 (MM-DD means this year)."
            ),
        )
        return
    start, end = dates[0], dates[-1]
    if end < start:
        await reply(update, context, _("The leave ends before it starts."))
        return
    if (end - start).days + 1 > worklogs.MAX_LEAVE_DAYS:
        await reply(update, context, _("Leave can be recorded for at most a year at a time."))
        return
    async with services.database.transaction() as session:
        found = await worklogs.find_staff(session, name)
        candidates = [p for p in found if p.active]
        if len(candidates) != 1:
            leave = None
        else:
            person = candidates[0]
            assert person.id is not None
            leave = await worklogs.record_leave(
                session,
                person_id=person.id,
                start=start,
                end=end,
                reason=reason or None,
                recorded_by_id=director.id,
                now=services.now(),
            )
            working = len(services.profile.calendar.working_days(start, end))
            t_ = translator(language_of(person, services.settings.language.value))
            await outbox.notify(
                session,
                services,
                key=f"worklog:leave:{leave.id}",
                chat_id=person.telegram_id,
                text=t_(
                    "🏖 Leave recorded for you: {start} to {end}. No work log is expected on "
                    "those days."
                ).format(start=start.isoformat(), end=end.isoformat()),
            )
    if not candidates:
        await reply(
            update,
            context,
            _("No active staff member called {name}.").format(name=esc(name)),
            parse_mode=ParseMode.HTML,
        )
        return
    if leave is None:
        await reply(
            update,
            context,
            _("Several people match {name}: {names}. Write the full name.").format(
                name=esc(name), names=_names(candidates)
            ),
            parse_mode=ParseMode.HTML,
        )
        return
    await reply(
        update,
        context,
        _("Recorded: {name} on leave {start} to {end} ({days} working day(s)).").format(
            name=esc(candidates[0].name),
            start=start.isoformat(),
            end=end.isoformat(),
            days=working,
        ),
        parse_mode=ParseMode.HTML,
    )
    outbox.deliver_soon(context.bot, services)


async def _leave_listing(
    context: HouqinContext,
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    _ = context._
    services = context.services
    today = _today(services)
    async with services.database.transaction() as session:
        leaves = await worklogs.leaves_overlapping(session, today, today + timedelta(days=366))
        everyone = {p.id: p for p in await people.list_people(session, include_inactive=True)}
    lines = [
        esc(
            _(
                "Record leave with /leave <name> <from> <to>, e.g. /leave 李师傅 11-24 11-25 "
                "(a reason may follow)."
            )
        )
    ]
    rows: list[list[InlineKeyboardButton]] = []
    if leaves:
        lines += ["", _("<b>Current and upcoming leave</b>")]
    for index, leave in enumerate(leaves, start=1):
        person = everyone.get(leave.person_id)
        name = person.name if person is not None else f"#{leave.person_id}"
        reason = f" · {esc(leave.reason)}" if leave.reason else ""
        lines.append(
            f"{index}. {esc(name)} {leave.start.isoformat()} ~ {leave.end.isoformat()}{reason}"
        )
        rows.append(
            [
                button(
                    _("Delete {index}. {name}").format(index=index, name=name[:20]),
                    f"wl:lvdel:{leave.id}",
                )
            ]
        )
    return "\n".join(lines), rows


async def _list_leave(update: Update, context: HouqinContext) -> None:
    text, rows = await _leave_listing(context)
    await send_long(context, _chat_id(update), text, keyboard(rows) if rows else None)


async def leave_delete(update: Update, context: HouqinContext) -> None:
    """A director removes a leave record (pressed twice: nothing more happens)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    leave_id = int(query.data.rsplit(":", 1)[1])
    async with context.services.database.transaction() as session:
        removed = await worklogs.delete_leave(session, leave_id)
    await query.answer(_("Leave deleted.") if removed else _("Already deleted."))
    text, rows = await _leave_listing(context)
    chunks = split_text(text)
    await query.edit_message_text(
        chunks[0],
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(rows) if rows and len(chunks) == 1 else None,
    )


async def ledger_command(update: Update, context: HouqinContext) -> None:
    """/ledger <from> <to> (or /ledger 2026-11): the logs as an Excel workbook (director)."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    services = context.services
    today = _today(services)
    args = list(context.args or [])
    start: date | None
    end: date | None
    if not args:
        start, end = today.replace(day=1), today
    elif len(args) == 1 and re.fullmatch(r"\d{4}-\d{1,2}", args[0]):
        try:
            month = Month.parse(args[0])
        except ValueError:
            start = end = None
        else:
            start, end = month.first_day, month.last_day
    elif len(args) == 2:
        start, end = worklogs.parse_day(args[0], today), worklogs.parse_day(args[1], today)
    else:
        start = end = None
    if start is None or end is None:
        await reply(
            update,
            context,
            _("Write it as /ledger 2026-11-01 2026-11-30 (or /ledger 2026-11 for a month)."),
        )
        return
    if end < start:
        await reply(update, context, _("The end date is before the start date."))
        return
    if (end - start).days + 1 > MAX_LEDGER_DAYS:
        await reply(
            update,
            context,
            _("At most {days} days at a time; export a longer range in parts.").format(
                days=MAX_LEDGER_DAYS
            ),
        )
        return
    async with services.database.transaction() as session:
        data, count = await ledger_workbook(session, services.profile, start, end, _)
    filename = ledger_filename(start, end, _)
    await context.bot.send_document(
        _chat_id(update),
        InputFile(data, filename=filename, attach=True),
        filename=filename,
        caption=_("📊 Work log ledger {start} to {end}: {count} log(s).").format(
            start=start.isoformat(), end=end.isoformat(), count=count
        ),
    )
    log.info("sent the work-log ledger %s..%s (%s rows)", start, end, count)


# --- post duties (岗位职责, 自订加审核) ------------------------------------------------------


async def duties_command(update: Update, context: HouqinContext) -> None:
    """/duties: one's duties (approved, else the post's), the draft's status, a draft button."""
    person = await require_role(update, context, {Role.STAFF})
    if person is None or person.id is None:
        return
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        approved = await worklogs.approved_duties(session, person.id)
        latest = await worklogs.latest_duties(session, person.id)
    duties, is_approved = duties_for(services, person, approved)
    lines = [
        _("<b>Your post duties</b> (approved)")
        if is_approved
        else _("<b>Post duties</b> (from the school's post description)")
    ]
    lines += [f"• {esc(duty)}" for duty in duties] or [_("(none written yet)")]
    if latest is not None and latest.status == worklogs.DutiesStatus.PENDING:
        lines += [
            "",
            _("Your draft of {date} is waiting for the director's approval.").format(
                date=latest.submitted_at.astimezone(services.settings.tz).strftime("%Y-%m-%d")
            ),
        ]
    elif latest is not None and latest.status == worklogs.DutiesStatus.RETURNED:
        lines += [
            "",
            _("Your last draft was returned: {comment}").format(comment=esc(latest.comment or "-")),
        ]
    rows = [[button(_("✏️ Draft my duties"), "wd:new")]]
    await send_long(context, _chat_id(update), "\n".join(lines), keyboard(rows))


async def duties_start(update: Update, context: HouqinContext) -> int:
    """The ✏️ button: ask for the text of the duties."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, {Role.STAFF}) is None:
        return ConversationHandler.END
    await query.answer()
    assert context.user_data is not None
    context.user_data.pop(FORM, None)
    context.user_data.pop(DUTIES_RETURN, None)
    await context.bot.send_message(
        _chat_id(update),
        context._(
            "Send your post duties in one message, one duty per line (at most {chars} "
            "characters). The director approves them. /cancel to stop."
        ).format(chars=worklogs.MAX_DUTIES_CHARS),
    )
    return DUTIES_TEXT


async def duties_text(update: Update, context: HouqinContext) -> int:
    """The drafted duties: filed as pending, the directors are asked to approve."""
    message = update.effective_message
    assert message is not None and message.text is not None
    person = await require_role(update, context, {Role.STAFF})
    if person is None or person.id is None:
        return ConversationHandler.END
    _ = context._
    services = context.services
    if len(message.text) > worklogs.MAX_DUTIES_CHARS:
        await reply(
            update,
            context,
            _(
                "That is too long (at most {chars} characters). Shorten it and send it again."
            ).format(chars=worklogs.MAX_DUTIES_CHARS),
        )
        return DUTIES_TEXT
    lines = worklogs.duties_lines(message.text)
    if not lines:
        await reply(update, context, _("Send the duties as text, one per line."))
        return DUTIES_TEXT
    async with services.database.transaction() as session:
        draft, _withdrawn = await worklogs.submit_duties(
            session, person_id=person.id, text=message.text, now=services.now()
        )
        directors = await people.active_directors(session)
        for director in directors:
            t_ = translator(language_of(director, services.settings.language.value))
            text = (
                t_("📋 {name} submitted post duties for approval:").format(name=esc(person.name))
                + "\n"
                + "\n".join(f"• {esc(line)}" for line in lines)
            )
            await outbox.notify(
                session,
                services,
                key=f"worklog:duties:{draft.id}:{director.id}",
                chat_id=director.telegram_id,
                text=text,
                markup=keyboard(
                    [
                        [
                            button(t_("Approve"), f"wd:ok:{draft.id}"),
                            button(t_("Return with a comment"), f"wd:ret:{draft.id}"),
                        ]
                    ]
                ),
            )
    await reply(update, context, _("Submitted. I will tell you when the director has decided."))
    outbox.deliver_soon(context.bot, services)
    return ConversationHandler.END


async def duties_other(update: Update, context: HouqinContext) -> int:
    """Anything but text while the duties are expected."""
    await reply(update, context, context._("Send the duties as text, one per line."))
    return DUTIES_TEXT


async def _decide(
    update: Update, context: HouqinContext, duties_id: int, *, approve: bool, comment: str | None
) -> None:
    director = context.person
    assert director is not None
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        try:
            draft, changed = await worklogs.decide_duties(
                session,
                duties_id=duties_id,
                approve=approve,
                director_id=director.id,
                comment=comment,
                now=services.now(),
            )
        except LookupError:
            await reply(update, context, _("This draft no longer exists."))
            return
        staff = await people.get_person(session, draft.person_id)
        if changed and staff is not None:
            t_ = translator(language_of(staff, services.settings.language.value))
            if approve:
                text = t_("✅ Your post duties were approved; the log form shows them from now on.")
            else:
                text = t_(
                    "↩ Your post duties were returned by the director: {comment}\nSend /duties "
                    "to write a new draft."
                ).format(comment=esc(comment or ""))
            await outbox.notify(
                session,
                services,
                key=f"worklog:duties:{draft.id}:decided",
                chat_id=staff.telegram_id,
                text=text,
            )
    labels = {
        worklogs.DutiesStatus.APPROVED: _("approved"),
        worklogs.DutiesStatus.RETURNED: _("returned"),
        worklogs.DutiesStatus.WITHDRAWN: _("replaced by a newer draft"),
        worklogs.DutiesStatus.PENDING: _("pending"),
    }
    outcome = labels.get(worklogs.DutiesStatus(draft.status), draft.status)
    name = esc(staff.name) if staff is not None else "?"
    if not changed:
        await reply(
            update,
            context,
            _("This draft was already handled: {outcome}.").format(outcome=outcome),
        )
        return
    done = _("Post duties of {name}: {outcome} by {director}.").format(
        name=name, outcome=outcome, director=esc(director.name)
    )
    query = update.callback_query
    if query is not None:
        await query.answer(outcome)
        await query.edit_message_reply_markup(None)
    await context.bot.send_message(_chat_id(update), done, parse_mode=ParseMode.HTML)
    outbox.deliver_soon(context.bot, services)


async def duties_approve(update: Update, context: HouqinContext) -> None:
    """A director approves a draft."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    await _decide(update, context, int(query.data.rsplit(":", 1)[1]), approve=True, comment=None)


async def duties_return_start(update: Update, context: HouqinContext) -> int:
    """A director starts returning a draft: ask for the comment."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return ConversationHandler.END
    _ = context._
    duties_id = int(query.data.rsplit(":", 1)[1])
    async with context.services.database.transaction() as session:
        draft = await session.get(PostDuties, duties_id)
    if draft is None or draft.status != worklogs.DutiesStatus.PENDING:
        await query.answer(_("This draft was already handled."), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    assert context.user_data is not None
    context.user_data.pop(FORM, None)
    context.user_data[DUTIES_RETURN] = duties_id
    await context.bot.send_message(
        _chat_id(update),
        _("Why is it returned? Send a short comment for the staff member (/cancel to stop)."),
    )
    return RETURN_COMMENT


async def duties_return_comment(update: Update, context: HouqinContext) -> int:
    """The director's comment: the draft is returned with it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return ConversationHandler.END
    _ = context._
    assert context.user_data is not None
    duties_id = context.user_data.get(DUTIES_RETURN)
    if not isinstance(duties_id, int):
        return ConversationHandler.END
    comment = message.text.strip()
    if len(comment) > 500:
        await reply(update, context, _("Keep the comment under 500 characters."))
        return RETURN_COMMENT
    context.user_data.pop(DUTIES_RETURN, None)
    await _decide(update, context, duties_id, approve=False, comment=comment)
    return ConversationHandler.END


async def comment_other(update: Update, context: HouqinContext) -> int:
    """Anything but text while the comment is expected."""
    await reply(update, context, context._("Send the comment as text (/cancel to stop)."))
    return RETURN_COMMENT


# --- registration ------------------------------------------------------------------------------


def _form_buttons() -> CallbackQueryHandler[HouqinContext, object]:
    return CallbackQueryHandler(form_button, pattern=r"^wl:f:(save|undo|clear|hours|cancel):\d{8}$")


def _private_text() -> filters.BaseFilter:
    return filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.Text(_menu_texts())


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    private_other = filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL
    private_other = private_other & ~filters.Text(_menu_texts())
    with warnings.catch_warnings():
        # per_message=False is intended: the form is per person in their private chat and
        # its buttons work on any of the form's messages.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[
                CommandHandler("log", open_form),
                MessageHandler(menu_filter("log"), open_form),
                CallbackQueryHandler(open_form, pattern=r"^wl:open:\d{8}$"),
                CallbackQueryHandler(duties_start, pattern=r"^wd:new$"),
                CallbackQueryHandler(duties_return_start, pattern=r"^wd:ret:\d+$"),
            ],
            states={
                ITEMS: [
                    MessageHandler(_private_text(), form_text),
                    MessageHandler(filters.ChatType.PRIVATE & filters.PHOTO, form_photo),
                    _form_buttons(),
                    MessageHandler(private_other, form_other),
                ],
                HOURS: [
                    MessageHandler(_private_text(), form_hours),
                    _form_buttons(),
                    MessageHandler(private_other, hours_other),
                ],
                DUTIES_TEXT: [
                    MessageHandler(_private_text(), duties_text),
                    MessageHandler(private_other, duties_other),
                ],
                RETURN_COMMENT: [
                    MessageHandler(_private_text(), duties_return_comment),
                    MessageHandler(private_other, comment_other),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel_form)],
            name="worklogs",
            persistent=True,
            allow_reentry=True,
        )
    application.add_handler(conversation)
    application.add_handler(CallbackQueryHandler(stale_form_button, pattern=r"^wl:f:"))
    application.add_handler(CommandHandler("mylogs", mylogs))
    application.add_handler(CommandHandler("duties", duties_command))
    application.add_handler(CommandHandler("logs", logs_command))
    application.add_handler(MessageHandler(menu_filter("logs"), logs_command))
    application.add_handler(CommandHandler("leave", leave_command))
    application.add_handler(CommandHandler("ledger", ledger_command))
    application.add_handler(CallbackQueryHandler(leave_delete, pattern=r"^wl:lvdel:\d+$"))
    application.add_handler(CallbackQueryHandler(duties_approve, pattern=r"^wd:ok:\d+$"))


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms); none moved there yet."""
    return []
