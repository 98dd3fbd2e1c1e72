"""What the service feature shows: a taken venue with its free slots and similar free
venues, and /meetings (today's and this week's bookings by venue)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from telegram import InlineKeyboardMarkup, Update

from actions.bookings import Taken
from handlers.common import require_role
from handlers.context import HouqinContext
from notices import bookings as told
from notices.bookings import BookingAction, BookingButton, FormChoice, form_button
from notices.render import button, esc, keyboard, send_long
from storage import bookings as store
from storage.booking_models import ACTIVE_STATUSES, Booking, BookingStatus
from storage.bookings import Request
from storage.models import Role

ANYONE = (Role.DIRECTOR, Role.STAFF, Role.TEACHER)
MAX_CHECKLIST_BUTTONS = 10
SHOWN = (*ACTIVE_STATUSES, BookingStatus.FINISHED, BookingStatus.CLOSED)


def venue_taken_text(
    context: HouqinContext, taken: Sequence[Taken], request: Request
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Why the venue cannot be had, its free slots those days, and similar free venues as
    buttons (choosing one goes on with the form)."""
    _ = context._
    settings = context.services.profile.bookings
    venue = told.venue_name(settings, request.venue_key)
    lines = [_("{venue} is taken at that time.").format(venue=esc(venue))]
    for item in taken:
        slots = told.slots_text(item.slots) or _("none")
        lines.append(
            _("{day}: booked by {number}; free that day: {slots}").format(
                day=told.day_label(item.day, _), number=esc(item.number), slots=slots
            )
        )
    alternatives = taken[0].alternatives if taken else []
    if alternatives:
        lines.append(_("Similar venues free at that time:"))
        lines += [f"• {esc(v.name)} ({v.capacity})" for v in alternatives[:5]]
        lines.append(_("Choose one, or /cancel and ask for another time."))
    else:
        lines.append(_("No similar venue is free then; /cancel and ask for another time."))
    rows = [
        [form_button(f"{v.name} ({v.capacity})", FormChoice.VENUE, v.key)] for v in alternatives[:5]
    ]
    return "\n".join(lines), keyboard(rows) if rows else None


async def meetings(update: Update, context: HouqinContext) -> None:
    """/meetings: today's and this week's bookings, by venue."""
    if await require_role(update, context, ANYONE) is None:
        return
    services = context.services
    _ = context._
    settings, tz = services.profile.bookings, services.profile.tz
    today = services.local_now().date()
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(today, time(0), tzinfo=tz)
    week_end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    async with services.database.reading() as session:
        found = await store.between(session, start, week_end, statuses=SHOWN)
    tomorrow = start + timedelta(days=1)
    parts = []
    for title, items in (
        (_("<b>Today</b>"), [b for b in found if b.starts_at < tomorrow]),
        (_("<b>Later this week</b>"), [b for b in found if b.starts_at >= tomorrow]),
    ):
        parts.append(title)
        if not items:
            parts.append(_("No bookings."))
            continue
        for venue in settings.venues:
            mine = [b for b in items if b.venue_key == venue.key]
            if not mine:
                continue
            parts.append(f"📍 {esc(venue.name)}")
            for b in mine:
                done, total = told.progress(settings, b)
                status = _(told.STATUS_LABELS[BookingStatus(b.status)])
                parts.append(
                    f"  {told.period_label(b, tz, _)} {esc(b.title)} · {b.people} · "
                    f"{esc(b.number)} {status} {done}/{total}"
                )
    person = context.person
    mine = [
        b
        for b in found
        if told.checklist_keyboard(settings, b, _) is not None
        and store.may(store.BookingMove.TICK, b, person)
    ][:MAX_CHECKLIST_BUTTONS]
    rows = [
        [button(_("☑ Checklist of {number}").format(number=b.number), _checklist(b))] for b in mine
    ]
    message = update.effective_message
    assert message is not None
    await send_long(
        context.bot, message.chat_id, "\n".join(parts), keyboard(rows) if rows else None
    )


def _checklist(booking: Booking) -> BookingButton:
    assert booking.id is not None
    return BookingButton(BookingAction.CHECKLIST, booking.id)
