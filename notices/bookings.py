"""What the bot says about meeting and reception services (会务与接待): button data, the
booking's card and lines, why a request is refused, and the keyboards of each notice."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.render import button, esc, keyboard
from school.booking_profile import BookingSettings
from school.i18n import N_, Translate
from storage.booking_models import DONE_STATUSES, Booking, BookingStatus
from storage.bookings import Refusal

WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))

KIND_LABELS = {
    "meeting": N_("Meeting"),
    "reception": N_("Reception"),
    "activity": N_("Activity"),
}

STATUS_LABELS = {
    BookingStatus.PENDING: N_("awaiting approval"),
    BookingStatus.ASSIGNED: N_("being prepared"),
    BookingStatus.READY: N_("ready"),
    BookingStatus.FINISHED: N_("to be rated"),
    BookingStatus.CLOSED: N_("done and rated"),
    BookingStatus.REJECTED: N_("rejected"),
    BookingStatus.CANCELLED: N_("cancelled"),
}


# --- button data -------------------------------------------------------------------------------


class FormChoice(enum.StrEnum):
    """A button of the request form."""

    KIND = "k"
    LEVEL = "l"
    DAY = "d"
    VENUE = "v"
    NEED = "n"
    NEEDS_DONE = "nd"
    CONTACT_ME = "c"
    SKIP_NOTE = "sn"
    WEEKS = "w"
    SUBMIT = "s"
    CANCEL = "x"


@dataclass(frozen=True)
class BookingFormButton(CallbackData, prefix="bkf", version=1):
    """A choice in the /service form."""

    choice: FormChoice
    value: str


class BookingAction(enum.StrEnum):
    """What a button on a booking's notice does."""

    APPROVE = "ok"
    REJECT = "no"
    PHOTO = "ph"
    CANCEL = "cx"
    SKIP_COMMENT = "sc"
    CHECKLIST = "cl"  # open a booking's checklist (from /meetings)


@dataclass(frozen=True)
class BookingButton(CallbackData, prefix="bk", version=1):
    """A button on a booking's notice."""

    action: BookingAction
    booking_id: int


@dataclass(frozen=True)
class StepButton(CallbackData, prefix="bks", version=1):
    """Tick (or untick) a checklist step of a booking."""

    booking_id: int
    step: str


@dataclass(frozen=True)
class StarsButton(CallbackData, prefix="bkr", version=1):
    """The requester's rating of a booking (1-5)."""

    booking_id: int
    stars: int


def form_button(label: str, choice: FormChoice, value: object = "") -> InlineKeyboardButton:
    """A button of the request form."""
    return button(label, BookingFormButton(choice, str(value)))


# --- words -------------------------------------------------------------------------------------


def day_label(moment: datetime | object, _: Translate) -> str:
    """'12-03 周四'."""
    assert hasattr(moment, "weekday")
    return f"{moment.strftime('%m-%d')} {_(WEEKDAY_NAMES[moment.weekday()])}"  # type: ignore[attr-defined]


def period_label(booking: Booking, tz: ZoneInfo, _: Translate) -> str:
    """'12-03 周四 14:00–16:00'."""
    start, end = booking.starts_at.astimezone(tz), booking.ends_at.astimezone(tz)
    return f"{day_label(start, _)} {start:%H:%M}–{end:%H:%M}"


def slots_text(slots: Sequence[tuple[time, time]]) -> str:
    """'07:30–14:00, 16:00–21:30'."""
    return ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in slots)


def venue_name(settings: BookingSettings, key: str) -> str:
    """The venue's name (its key when the profile no longer has it)."""
    try:
        return settings.venue(key).name
    except KeyError:
        return key


def class_name(settings: BookingSettings, key: str) -> str:
    """The class's name (its key when the profile no longer has it)."""
    try:
        return settings.booking_class(key).name
    except KeyError:
        return key


def steps_of(settings: BookingSettings, booking: Booking) -> list[str]:
    """The checklist steps of the booking's class."""
    try:
        return list(settings.booking_class(booking.class_key).checklist)
    except KeyError:
        return list(booking.done_steps)


def step_name(settings: BookingSettings, key: str) -> str:
    """A checklist step's name."""
    try:
        return settings.step(key).name
    except KeyError:
        return key


def needs_text(settings: BookingSettings, needs: Sequence[str], _: Translate) -> str:
    """'音响话筒、茶水' or '无'."""
    names = []
    for key in needs:
        try:
            names.append(settings.need(key).name)
        except KeyError:
            names.append(key)
    return "、".join(names) if names else _("none")


def progress(settings: BookingSettings, booking: Booking) -> tuple[int, int]:
    """(steps done, steps) of the checklist."""
    steps = steps_of(settings, booking)
    return sum(1 for s in steps if s in booking.done_steps), len(steps)


def card(
    settings: BookingSettings,
    booking: Booking,
    tz: ZoneInfo,
    _: Translate,
    *,
    steps: bool = True,
    status: bool = True,
) -> str:
    """The booking as a card: what, when, where, who, needs, status and checklist."""
    lines = [
        (f"<b>{esc(booking.number)}</b> " if booking.number else "")
        + _("{kind} · {klass}").format(
            kind=_(KIND_LABELS.get(booking.kind, booking.kind)),
            klass=esc(class_name(settings, booking.class_key)),
        ),
        _("Subject: {value}").format(value=esc(booking.title)),
        _("Time: {value}").format(value=period_label(booking, tz, _)),
        _("Venue: {value}").format(value=esc(venue_name(settings, booking.venue_key))),
        _("People: {value}").format(value=booking.people),
    ]
    if booking.kind == "reception":
        lines.append(
            _("Guests {guests}, escorts {escorts}").format(
                guests=booking.people - booking.escorts, escorts=booking.escorts
            )
        )
    if booking.meal_budget is not None:
        lines.append(
            _("Meal: {budget} yuan per head, {tables} table(s)").format(
                budget=booking.meal_budget, tables=settings.frugality.tables(booking.people)
            )
        )
    lines.append(_("Needs: {value}").format(value=esc(needs_text(settings, booking.needs, _))))
    lines.append(
        _("Requested by {name}, contact {contact}").format(
            name=esc(booking.requester_name), contact=esc(booking.contact)
        )
    )
    if booking.note:
        lines.append(_("Note: {value}").format(value=esc(booking.note)))
    if status:
        label = _(STATUS_LABELS[BookingStatus(booking.status)])
        lines.append(_("Status: {value}").format(value=label))
    if booking.reason and booking.status == BookingStatus.REJECTED:
        lines.append(_("Reason: {value}").format(value=esc(booking.reason)))
    if steps and booking.status not in (BookingStatus.PENDING, BookingStatus.REJECTED):
        done, total = progress(settings, booking)
        lines.append(_("Checklist {done}/{total}:").format(done=done, total=total))
        for step in steps_of(settings, booking):
            mark = "✅" if step in booking.done_steps else "⬜"
            lines.append(f"{mark} {esc(step_name(settings, step))}")
    if booking.rating is not None:
        lines.append(_("Rating: {stars}").format(stars="★" * booking.rating))
    return "\n".join(lines)


def refusal_text(refusal: Refusal, _: Translate) -> str:
    """Why a rule refuses the request, in one line."""
    v = refusal.values
    if refusal.reason == "order":
        return _("The end must be after the start.")
    if refusal.reason == "past":
        return _("That time has passed.")
    if refusal.reason == "hours":
        return _("Venues are booked between {start} and {end}, on one day.").format(
            start=f"{v['start']:%H:%M}", end=f"{v['end']:%H:%M}"
        )
    if refusal.reason == "lead_time":
        return _(
            "A {klass} must be requested at least {days} working day(s) ahead: "
            "the earliest day now is {day}."
        ).format(klass=esc(v["klass"]), days=v["days"], day=day_label(v["day"], _))
    if refusal.reason == "capacity":
        return _("{venue} seats {capacity}: too small for this number of people.").format(
            venue=esc(v["venue"]), capacity=v["capacity"]
        )
    if refusal.reason == "weeks":
        return _("A weekly series may run at most {max} weeks.").format(max=v["max"])
    if refusal.reason == "escorts":
        return _(
            "Reception rules: with {guests} guest(s) at most {max} escort(s) may attend."
        ).format(guests=v["guests"], max=v["max"])
    if refusal.reason == "meal_cap":
        return _("Reception rules: a working meal costs at most {cap} yuan per head.").format(
            cap=v["cap"]
        )
    if refusal.reason == "forbidden":
        return _("Reception rules: “{word}” is not provided at receptions.").format(
            word=esc(v["word"])
        )
    return refusal.reason


def refusals_text(refusals: Sequence[Refusal], _: Translate) -> str:
    """Every reason, one a line."""
    return "\n".join("• " + refusal_text(r, _) for r in refusals)


# --- keyboards ---------------------------------------------------------------------------------


def checklist_keyboard(
    settings: BookingSettings, booking: Booking, _: Translate
) -> InlineKeyboardMarkup | None:
    """The checklist as buttons (tick / untick) and the photo button, while it is prepared."""
    if booking.status not in (BookingStatus.ASSIGNED, BookingStatus.READY):
        done, total = progress(settings, booking)
        if booking.status not in DONE_STATUSES or done == total:
            return None
    assert booking.id is not None
    rows = []
    for step in steps_of(settings, booking):
        mark = "✅" if step in booking.done_steps else "⬜"
        rows.append([button(f"{mark} {step_name(settings, step)}", StepButton(booking.id, step))])
    rows.append(
        [button(_("📷 Photo of the set-up room"), BookingButton(BookingAction.PHOTO, booking.id))]
    )
    return keyboard(rows)


def decision_keyboard(booking: Booking, _: Translate) -> InlineKeyboardMarkup:
    """Approve / reject, for the director."""
    assert booking.id is not None
    return keyboard(
        [
            [
                button(_("Approve"), BookingButton(BookingAction.APPROVE, booking.id)),
                button(_("Reject"), BookingButton(BookingAction.REJECT, booking.id)),
            ]
        ]
    )


def stars_keyboard(booking: Booking) -> InlineKeyboardMarkup:
    """1★ … 5★ for the requester."""
    assert booking.id is not None
    return keyboard([[button("★" * n, StarsButton(booking.id, n)) for n in range(1, 6)]])


def cancel_keyboard(booking: Booking, _: Translate) -> InlineKeyboardMarkup:
    """撤销, for the requester, while it has not taken place."""
    assert booking.id is not None
    return keyboard([[button(_("Withdraw"), BookingButton(BookingAction.CANCEL, booking.id))]])
