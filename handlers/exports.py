"""/export: the director's Excel files, one table of kinds.

`/export 2026-10` (or a bare /export) is the month's appraisal (handlers.appraisal); the
first word names any other kind: `/export tickets 2026-11-01 2026-11-30` is the repair ticket
ledger with materials and cost, `/export services 2026-11` the month's 会务台账. A feature
adds its export as one row of EXPORTS.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from telegram import InputFile, Update
from telegram.ext import CommandHandler

from handlers import appraisal
from handlers.appraisal_common import local_today, private_only
from handlers.common import reply, require_role
from handlers.context import HouqinApp, HouqinContext
from notices.booking_export import services_filename, services_workbook
from notices.render import esc
from notices.ticket_export import MAX_DAYS, tickets_filename, tickets_workbook
from school.i18n import N_
from storage.models import Role
from storage.stats import Month
from storage.ticket_costs import money_text

Run = Callable[[Update, HouqinContext, list[str]], Awaitable[None]]


@dataclass(frozen=True)
class Export:
    """A kind of export: the word after /export, how to ask for it, and what makes it."""

    word: str
    usage: str  # N_(): shown in the list of exports
    run: Run


def date_range(args: list[str]) -> tuple[date, date] | None:
    """'2026-11-01 2026-11-30', or '2026-11' for a month; None if unreadable or reversed."""
    try:
        if len(args) == 1 and re.fullmatch(r"\d{4}-\d{1,2}", args[0]):
            month = Month.parse(args[0])
            return month.first_day, month.next().first_day - timedelta(days=1)
        if len(args) == 2:
            start, end = date.fromisoformat(args[0]), date.fromisoformat(args[1])
            return (start, end) if start <= end else None
    except ValueError:
        return None
    return None


async def export_tickets(update: Update, context: HouqinContext, args: list[str]) -> None:
    """/export tickets 2026-11-01 2026-11-30 (or 2026-11): the repair ticket ledger."""
    _ = context._
    found = date_range(args)
    if found is None:
        await reply(
            update,
            context,
            _("Write it as /export tickets 2026-11-01 2026-11-30 (or /export tickets 2026-11)."),
        )
        return
    start, end = found
    if (end - start).days + 1 > MAX_DAYS:
        await reply(
            update,
            context,
            _("At most {days} days at a time; export a longer range in parts.").format(
                days=MAX_DAYS
            ),
        )
        return
    services = context.services
    async with services.database.reading() as session:
        data, count, cost = await tickets_workbook(session, services.profile, start, end, _)
    message = update.effective_message
    assert message is not None
    filename = tickets_filename(start, end, _)
    await message.reply_document(
        document=InputFile(data, filename=filename, attach=True),
        filename=filename,
        caption=_("🔧 Repair tickets {start} to {end}: {count} ticket(s), cost {cost}.").format(
            start=start.isoformat(), end=end.isoformat(), count=count, cost=money_text(cost)
        ),
    )


async def export_services(update: Update, context: HouqinContext, args: list[str]) -> None:
    """/export services [2026-11]: the month's meeting and reception services (this month)."""
    _ = context._
    try:
        month = Month.parse(args[0]) if args else Month.of(local_today(context))
    except ValueError:
        await reply(update, context, _("Write it as /export services 2026-11."))
        return
    services = context.services
    async with services.database.reading() as session:
        data, count = await services_workbook(session, services.profile, month, _)
    message = update.effective_message
    assert message is not None
    filename = services_filename(month, _)
    await message.reply_document(
        document=InputFile(data, filename=filename, attach=True),
        filename=filename,
        caption=_("🗓 Meeting and reception services of {month}: {count} booking(s).").format(
            month=str(month), count=count
        ),
    )


EXPORTS: tuple[Export, ...] = (
    Export(
        "tickets",
        N_("/export tickets 2026-11-01 2026-11-30: repair tickets with materials and cost"),
        export_tickets,
    ),
    Export(
        "services",
        N_("/export services 2026-11: the month's meeting and reception services"),
        export_services,
    ),
)
MONTH = re.compile(r"^\d{4}-\d{1,2}$")


async def export_command(update: Update, context: HouqinContext) -> None:
    """/export [kind] …: the appraisal for a month (the default), or a kind of EXPORTS."""
    args = list(context.args or [])
    if not args or MONTH.match(args[0]):
        await appraisal.export_command(update, context)
        return
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    if not await private_only(update, context):
        return
    _ = context._
    kinds = {export.word: export for export in EXPORTS}
    kind = kinds.get(args[0].lower())
    if kind is not None:
        await kind.run(update, context, args[1:])
        return
    usage = [_("/export 2026-10: the appraisal of a month, for pay")]
    usage += [_(export.usage) for export in EXPORTS]
    await reply(
        update,
        context,
        _("I can export:") + "\n" + "\n".join(f"• {esc(line)}" for line in usage),
    )


def register(application: HouqinApp) -> None:
    """/export."""
    application.add_handler(CommandHandler("export", export_command))
