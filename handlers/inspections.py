"""Inspections (检查): /inspections (my unfinished rounds, recent rounds with results), a
round's detail, the trend of recurring problems, and this feature's form (the walk, in
handlers.inspection_walk).

Every button of the feature carries typed data (notices.inspections: WalkButton,
RoundDetailButton, TrendButton; prefixes "ins", "insr", "inst"); buttons of the older,
unversioned "ins:…" format are answered as expired by the fallback.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler

from actions import inspections as act
from handlers import inspection_walk
from handlers.buttons import on_button
from handlers.common import allowed_press, private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, AnyHandler, Form
from handlers.menu import menu_filter
from notices import inspection_walk as walk_texts
from notices import inspections as notices
from notices.inspections import RoundDetailButton, TrendButton
from notices.render import send_long
from storage.models import Role

RECENT_ROUNDS = 8
TREND_MONTHS = 6
MAX_TREND_MONTHS = 12
CREW = {Role.STAFF, Role.DIRECTOR}


async def inspections_command(update: Update, context: HouqinContext) -> None:
    """/inspections: my unfinished rounds, recent rounds with results, details and trend."""
    person = await require_role(update, context, CREW)
    if person is None or person.id is None:
        return
    _ = context._
    if not private_chat(update):
        await reply(update, context, _("Use /inspections in a private chat with me."))
        return
    services = context.services
    found = await act.overview(services, person.id, recent=RECENT_ROUNDS)
    director = Role(person.role) == Role.DIRECTOR
    text, markup = notices.rounds_list(
        services, found.mine, found.recent, _, trend_months=TREND_MONTHS if director else None
    )
    await reply(update, context, text, reply_markup=markup)


async def inspections_in_walk(update: Update, context: HouqinContext) -> int:
    """/inspections inside the walk: the list; the walk ends (继续检查 resumes it, with an
    异常 being written)."""
    await inspections_command(update, context)
    return END


async def view_round(update: Update, context: HouqinContext, data: RoundDetailButton) -> None:
    """A round's detail: each item with its result, place, note and ticket."""
    query = await allowed_press(update, context, CREW)
    if query is None:
        return
    _ = context._
    services = context.services
    found = await act.round_summary(services, data.round_id)
    if found is None:
        await query.answer(walk_texts.refused("no_round", _), show_alert=True)
        return
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    await send_long(context.bot, chat.id, notices.render_detail(services, found, _))


async def trend(update: Update, context: HouqinContext, data: TrendButton) -> None:
    """How often each item failed per month (director): what recurs."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return
    services = context.services
    months, found = await act.item_trend(services, max(1, min(MAX_TREND_MONTHS, data.months)))
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    await send_long(context.bot, chat.id, notices.trend(services, months, found, context._))


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order). The walk's buttons
    are entry points of its form (forms())."""
    application.add_handler(CommandHandler("inspections", inspections_command))
    application.add_handler(MessageHandler(menu_filter("inspections"), inspections_command))
    application.add_handler(on_button(RoundDetailButton, view_round))
    application.add_handler(on_button(TrendButton, trend))


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms): the walk."""
    everywhere: list[AnyHandler] = [
        CommandHandler("inspections", inspections_in_walk),
        MessageHandler(menu_filter("inspections"), inspections_in_walk),
    ]
    return [inspection_walk.walk_form(everywhere)]
