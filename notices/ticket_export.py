"""The repair ticket ledger (维修台账) as Excel: one row per ticket reported in a date range with
its times, people, place, category, urgency, status, rework, rating, materials, hours and cost,
and the totals; a second sheet lists every material line.

`houqin export tickets` (bot.cli_export) and `/export tickets` (handlers.exports) write it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from notices.export import Cell, Column, Sheet, workbook_bytes
from notices.tickets import category_name, status_label, urgency_name
from school.i18n import N_, Translate
from school.profile import SchoolProfile
from storage import ticket_costs as costs
from storage.ticket_costs import line_text, total

MAX_DAYS = 366
MONEY = "#,##0.00"
WHEN = "yyyy-mm-dd hh:mm"

TICKET_COLUMNS = (
    (N_("Number"), 14, False, None),
    (N_("Reported at"), 16, False, WHEN),
    (N_("Accepted at"), 16, False, WHEN),
    (N_("Finished at"), 16, False, WHEN),
    (N_("Closed at"), 16, False, WHEN),
    (N_("Reporter"), 10, False, None),
    (N_("Worker"), 10, False, None),
    (N_("Place"), 20, True, None),
    (N_("Category"), 10, False, None),
    (N_("Urgency"), 8, False, None),
    (N_("Status"), 10, False, None),
    (N_("Reworks"), 7, False, None),
    (N_("Rating"), 7, False, None),
    (N_("Materials"), 36, True, None),
    (N_("Hours"), 7, False, "0.00"),
    (N_("Cost (yuan)"), 11, False, MONEY),
)
MATERIAL_COLUMNS = (
    (N_("Number"), 14, False, None),
    (N_("Finished at"), 16, False, WHEN),
    (N_("Material"), 20, False, None),
    (N_("Quantity"), 9, False, "0.##"),
    (N_("Unit"), 6, False, None),
    (N_("Unit price (yuan)"), 12, False, MONEY),
    (N_("Cost (yuan)"), 11, False, MONEY),
)


def tickets_filename(start: date, end: date, t_: Translate) -> str:
    """维修台账_2026-11-01_2026-11-30.xlsx"""
    return f"{t_('Repair ticket ledger')}_{start.isoformat()}_{end.isoformat()}.xlsx"


def _local(profile: SchoolProfile, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(profile.tz).replace(tzinfo=None, second=0, microsecond=0)


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


async def tickets_workbook(
    session: AsyncSession, profile: SchoolProfile, start: date, end: date, t_: Translate
) -> tuple[bytes, int, Decimal]:
    """The ledger of the tickets reported from `start` to `end` (school days, inclusive) as
    .xlsx bytes; returns the bytes, how many tickets and their total cost. Three queries
    whatever the number of tickets."""
    tz = profile.tz
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    tickets = await costs.tickets_reported(session, since, until)
    ids = [t.id for t in tickets if t.id is not None]
    lines = await costs.lines_of_tickets(session, ids)
    names = await costs.names_of(session, (t.assignee_id for t in tickets))
    rows: list[list[Cell]] = []
    material_rows: list[list[Cell]] = []
    hours_total, cost_total = Decimal(0), Decimal(0)
    for ticket in tickets:
        assert ticket.id is not None
        used = lines.get(ticket.id, [])
        cost = total(used)
        hours_total += ticket.hours or 0
        cost_total += cost
        rows.append(
            [
                ticket.number,
                _local(profile, ticket.created_at),
                _local(profile, ticket.accepted_at),
                _local(profile, ticket.completed_at),
                _local(profile, ticket.closed_at),
                ticket.reporter_name,
                names.get(ticket.assignee_id or 0, ""),
                ticket.place,
                category_name(profile, ticket.category_key),
                urgency_name(profile, ticket.urgency_key),
                status_label(ticket.status, t_),
                ticket.rework_count,
                ticket.rating,
                "\n".join(line_text(line) for line in used) or None,
                _number(ticket.hours),
                _number(cost) if used else None,
            ]
        )
        for line in used:
            material_rows.append(
                [
                    ticket.number,
                    _local(profile, line.added_at),
                    line.name,
                    _number(line.quantity),
                    line.unit,
                    _number(line.unit_price),
                    _number(line.cost),
                ]
            )
    totals: list[Cell] = [None] * len(TICKET_COLUMNS)
    totals[0] = t_("Total: {count} ticket(s)").format(count=len(tickets))
    totals[-2:] = [_number(hours_total), _number(cost_total)]
    rows.append(totals)
    material_rows.append([t_("Total cost"), None, None, None, None, None, _number(cost_total)])

    def columns(spec: tuple[tuple[str, int, bool, str | None], ...]) -> list[Column]:
        return [Column(t_(title), width, wrap, fmt) for title, width, wrap, fmt in spec]

    sheets = [
        Sheet(t_("Tickets"), columns(TICKET_COLUMNS), rows),
        Sheet(t_("Materials"), columns(MATERIAL_COLUMNS), material_rows),
    ]
    return workbook_bytes(sheets), len(tickets), cost_total.quantize(Decimal("0.01"))
