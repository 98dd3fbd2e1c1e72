"""The month's ledger of meeting and reception services (会务台账) as an Excel workbook: one
row per booking with its class, time, venue, people, needs, requester, status, checklist
progress, who did the work and the rating. `houqin export services [2026-11]` writes it; a
chat command can send the same bytes (`services_workbook`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notices import bookings as told
from notices.export import Cell, Column, Sheet, workbook_bytes
from school.i18n import N_
from storage import bookings as store
from storage.booking_models import BookingStatus
from storage.models import Person
from storage.stats import Month

if TYPE_CHECKING:
    from school.profile import SchoolProfile

SERVICE_COLUMNS = (
    (N_("Number"), 10, False, None),
    (N_("Kind"), 8, False, None),
    (N_("Class"), 10, False, None),
    (N_("Subject"), 24, True, None),
    (N_("Date"), 12, False, "yyyy-mm-dd"),
    (N_("Start"), 7, False, None),
    (N_("End"), 7, False, None),
    (N_("Venue"), 20, False, None),
    (N_("People"), 7, False, None),
    (N_("Needs"), 24, True, None),
    (N_("Requester"), 10, False, None),
    (N_("Contact"), 16, False, None),
    (N_("Status"), 9, False, None),
    (N_("Checklist done"), 9, False, None),
    (N_("Done by"), 16, True, None),
    (N_("Rating"), 7, False, None),
    (N_("Comment"), 30, True, None),
)


LEDGER_TITLE = N_("Meeting service ledger")


def services_filename(month: Month, t_: Callable[[str], str]) -> str:
    """会务台账_2026-11.xlsx"""
    return f"{t_(LEDGER_TITLE)}_{month}.xlsx"


async def services_workbook(
    session: AsyncSession, profile: SchoolProfile, month: Month, t_: Callable[[str], str]
) -> tuple[bytes, int]:
    """The month's bookings (by start) as .xlsx bytes, and how many it lists."""
    settings, tz = profile.bookings, profile.tz
    start = datetime.combine(month.first_day, time(0), tzinfo=tz)
    end = datetime.combine(month.next().first_day, time(0), tzinfo=tz)
    found = await store.between(session, start, end)
    done_by: dict[int, list[int]] = {}
    for booking in found:
        assert booking.id is not None
        done_by[booking.id] = await store.workers(session, booking.id)
    ids = {pid for pids in done_by.values() for pid in pids}
    names: dict[int, str] = {}
    if ids:
        people = await session.exec(select(Person).where(col(Person.id).in_(ids)))
        names = {p.id: p.name for p in people.all() if p.id is not None}
    rows: list[list[Cell]] = []
    for booking in found:
        assert booking.id is not None
        starts, ends = booking.starts_at.astimezone(tz), booking.ends_at.astimezone(tz)
        done, total = told.progress(settings, booking)
        rows.append(
            [
                booking.number,
                t_(told.KIND_LABELS.get(booking.kind, booking.kind)),
                told.class_name(settings, booking.class_key),
                booking.title,
                starts.date(),
                f"{starts:%H:%M}",
                f"{ends:%H:%M}",
                told.venue_name(settings, booking.venue_key),
                booking.people,
                told.needs_text(settings, booking.needs, t_),
                booking.requester_name,
                booking.contact,
                t_(told.STATUS_LABELS[BookingStatus(booking.status)]),
                f"{done}/{total}",
                "、".join(names.get(pid, "?") for pid in done_by[booking.id]),
                booking.rating,
                booking.rating_comment or booking.reason,
            ]
        )
    columns = [Column(t_(title), width, wrap, fmt) for title, width, wrap, fmt in SERVICE_COLUMNS]
    return workbook_bytes([Sheet(str(month), columns, rows)]), len(rows)
