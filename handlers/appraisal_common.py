"""What the appraisal's handlers share: the school's today and reading a period the director or
a staff member typed (or a button carried)."""

from __future__ import annotations

from datetime import date

from telegram import Update

from handlers.common import private_chat, reply
from handlers.context import HouqinContext
from storage.appraisal import Period
from storage.stats import Month


def local_today(context: HouqinContext) -> date:
    """Today in the school's time zone."""
    return context.services.local_now().date()


def default_month(context: HouqinContext) -> Month:
    """The month a command means without one: the last month."""
    return Month.of(local_today(context)).previous()


def parse_period(context: HouqinContext, text: str | None) -> Period | None:
    """2026-10, 2026-Q4 or 2026 (the last month when empty); None when it is not a period or
    has not begun yet (2026-13, 1999, next month)."""
    if not text:
        return Period.of_month(default_month(context))
    try:
        period = Period.parse(text)
    except ValueError:
        return None
    if period.months[0].first_day > local_today(context):
        return None
    return period


async def private_only(update: Update, context: HouqinContext) -> bool:
    """True in a private chat; elsewhere say where to use it."""
    if private_chat(update):
        return True
    await reply(update, context, context._("Please use this in a private chat with me."))
    return False
