"""The director's work-log commands: /logs [date|name] (a day, or a person's history), /leave
(record, list and delete leave) and /ledger (the Excel ledger, 工作台账)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date

from telegram import InputFile, Update
from telegram.ext import CommandHandler, MessageHandler

from actions import worklogs as actions
from handlers.buttons import on_button
from handlers.common import allowed_press, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.menu import menu_filter
from notices import outbox, worklog_views
from notices.export import MAX_LEDGER_DAYS, ledger_filename, ledger_workbook
from notices.render import edit_or_ignore, esc, send_long, split_text
from notices.worklogs import LeaveButton
from storage import worklogs
from storage.models import Role
from storage.stats import Month

log = logging.getLogger(__name__)


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def logs_command(update: Update, context: HouqinContext) -> None:
    """/logs [date] shows a day; /logs <name> a person's history (director)."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    services = context.services
    today = services.local_now().date()
    argument = " ".join(context.args or []).strip()
    day = worklogs.parse_day(argument, today) if argument else today
    async with services.database.reading() as session:
        if day is not None:
            text = await worklog_views.day_view(session, services, day, _)
            await send_long(context.bot, _chat_id(update), text)
            return
        found = await worklogs.find_staff(session, argument)
        history = (
            await worklog_views.history_view(session, services, found[0], _)
            if len(found) == 1
            else None
        )
    if history is not None:
        await send_long(context.bot, _chat_id(update), history)
    elif not found:
        await reply(
            update,
            context,
            esc(_("No staff member called {name}. Use /logs 2026-11-20 or /logs <name>.")).format(
                name=esc(argument)
            ),
        )
    else:
        await reply(
            update,
            context,
            _("Several people match {name}: {names}. Write the full name.").format(
                name=esc(argument), names=worklog_views.names(found)
            ),
        )


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
    args = list(context.args or [])
    if not args:
        async with services.database.reading() as session:
            text, markup = await worklog_views.leave_listing(session, services, _)
        await send_long(context.bot, _chat_id(update), text, markup)
        return
    name, dates, reason = _split_leave_args(args, services.local_now().date())
    if not dates:
        await reply(
            update,
            context,
            esc(
                _(
                    "Write it as /leave <name> <from> <to>, e.g. /leave 李师傅 2026-11-24 "
                    "2026-11-25 (MM-DD means this year)."
                )
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
    recorded = await actions.record_leave(
        services,
        name=name,
        start=start,
        end=end,
        reason=reason or None,
        recorded_by_id=director.id,
    )
    if not recorded.candidates:
        text = _("No active staff member called {name}.").format(name=esc(name))
    elif recorded.leave is None:
        text = _("Several people match {name}: {names}. Write the full name.").format(
            name=esc(name), names=worklog_views.names(recorded.candidates)
        )
    else:
        text = _("Recorded: {name} on leave {start} to {end} ({days} working day(s)).").format(
            name=esc(recorded.candidates[0].name),
            start=start.isoformat(),
            end=end.isoformat(),
            days=recorded.working_days,
        )
    await reply(update, context, text)
    if recorded.leave is not None:
        outbox.deliver_soon(context.bot, services)


async def delete_leave(update: Update, context: HouqinContext, data: LeaveButton) -> None:
    """A director removes a leave record (pressed twice: nothing more happens)."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return
    _ = context._
    services = context.services
    removed = await actions.delete_leave(services, data.leave_id)
    await query.answer(_("Leave deleted.") if removed else _("Already deleted."))
    async with services.database.reading() as session:
        text, markup = await worklog_views.leave_listing(session, services, _)
    chunks = split_text(text)
    await edit_or_ignore(
        query.edit_message_text(chunks[0], reply_markup=markup if len(chunks) == 1 else None)
    )


def _ledger_range(args: Sequence[str], today: date) -> tuple[date | None, date | None]:
    """The ledger's days: none given (this month so far), 2026-11, or <from> <to>."""
    if not args:
        return today.replace(day=1), today
    if len(args) == 1 and re.fullmatch(r"\d{4}-\d{1,2}", args[0]):
        try:
            month = Month.parse(args[0])
        except ValueError:
            return None, None
        return month.first_day, month.last_day
    if len(args) == 2:
        return worklogs.parse_day(args[0], today), worklogs.parse_day(args[1], today)
    return None, None


async def ledger_command(update: Update, context: HouqinContext) -> None:
    """/ledger <from> <to> (or /ledger 2026-11): the logs as an Excel workbook (director)."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    services = context.services
    start, end = _ledger_range(list(context.args or []), services.local_now().date())
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
    async with services.database.reading() as session:
        data, count = await ledger_workbook(
            session, services.profile, start, end, _, now=services.now()
        )
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


def register(application: HouqinApp) -> None:
    """/logs (and its menu button), /leave, /ledger and the leave listing's buttons."""
    application.add_handler(CommandHandler("logs", logs_command))
    application.add_handler(MessageHandler(menu_filter("logs"), logs_command))
    application.add_handler(CommandHandler("leave", leave_command))
    application.add_handler(CommandHandler("ledger", ledger_command))
    application.add_handler(on_button(LeaveButton, delete_leave))
