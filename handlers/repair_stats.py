"""/stats [2026-11]: the repair desk's numbers for a month, as text and one chart.

The director asks in the private chat; in the group bound as the leaders' group (/bind leaders)
anyone there may ask. Numbers: storage.ticket_kpis (README, "Repair numbers"); texts:
notices.repair_report.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import CommandHandler

from actions import repair_report as actions
from handlers.appraisal_common import default_month, local_today
from handlers.common import private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from notices import repair_report
from notices.render import send_long
from storage import groups
from storage.models import GroupPurpose, Role
from storage.stats import Month


async def _allowed(update: Update, context: HouqinContext) -> bool:
    """The director anywhere; in the leaders' group, whoever is in it."""
    chat = update.effective_chat
    if chat is not None and not private_chat(update):
        async with context.services.database.reading() as session:
            group = await groups.get_group(session, chat.id)
        if group is not None and group.purpose == GroupPurpose.LEADERS:
            return True
    return await require_role(update, context, {Role.DIRECTOR}) is not None


def _month(context: HouqinContext) -> Month | None:
    """The month asked for (the last month without one); None when it is not a month or has
    not begun."""
    if not context.args:
        return default_month(context)
    try:
        month = Month.parse(context.args[0])
    except ValueError:
        return None
    return month if month.first_day <= local_today(context) else None


async def stats(update: Update, context: HouqinContext) -> None:
    """/stats [2026-11]: the month's repair numbers and a chart of tickets by category."""
    if not await _allowed(update, context):
        return
    _ = context._
    chat = update.effective_chat
    assert chat is not None
    month = _month(context)
    if month is None:
        await reply(update, context, _("Which month? Send /stats 2026-11; not a future one."))
        return
    services = context.services
    kpis = await actions.month_kpis(services, month)
    await send_long(
        context.bot, chat.id, repair_report.report_text(kpis, month, services.profile, _)
    )
    png = await asyncio.to_thread(
        repair_report.chart_png,
        kpis,
        month,
        services.profile,
        _,
        services.settings.chart_font_path,
    )
    if png is not None:
        await context.bot.send_photo(
            chat.id, photo=png, caption=repair_report.chart_caption(month, services.profile, _)
        )


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    application.add_handler(CommandHandler("stats", stats))
