"""The service request form (会务与接待申请): /service or the 🗓 menu button.

kind (会议/接待/活动) → level (receptions) → subject → people → day → time → venue → needs
(several) → meal budget (a reception with a meal) → contact → note → repeat weekly → summary.
One state per step; the draft (`ServiceDraft`, user_data["bk_form"]) is persisted, so a
restart resumes it, and another form starting parks it (/service goes on with it). Each step
checks what it can at once (lead time, capacity, a taken venue, frugality caps), and the
submission checks everything again: a request the rules do not allow is answered with why.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, Field
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from actions import bookings as act
from handlers.booking_views import ANYONE, venue_taken_text
from handlers.common import reply, require_role
from handlers.context import HouqinContext
from handlers.forms import END, drop_draft, load_draft, opening, save_draft
from notices import bookings as told
from notices import outbox
from notices.bookings import FormChoice, form_button
from notices.render import esc, keyboard
from storage import bookings as store
from storage.booking_models import Booking
from storage.bookings import Refusal, Request, Requester

DRAFT = "bk_form"
MAX_TITLE = store.MAX_TITLE
STEPS = (
    "kind",
    "level",
    "title",
    "people",
    "day",
    "time",
    "venue",
    "needs",
    "meal",
    "contact",
    "note",
    "weeks",
    "summary",
)
WEEK_CHOICES = (1, 4, 8, 12, 16, 20)
# the step to go back to when a rule refuses the submission
REFUSED_AT = {
    "order": "time",
    "past": "day",
    "hours": "time",
    "lead_time": "day",
    "capacity": "venue",
    "weeks": "weeks",
    "escorts": "people",
    "meal_cap": "meal",
    "forbidden": "note",
}
_TIME = re.compile(r"^\s*(\d{1,2})[:：.](\d{2})\s*[-–~至到]\s*(\d{1,2})[:：.](\d{2})\s*$")
_DAY = re.compile(r"^\s*(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?\s*$")
_PEOPLE = re.compile(r"^\s*(\d{1,4})\s*(?:[+＋]\s*(\d{1,4}))?\s*人?\s*$")


class ServiceDraft(BaseModel):
    """The form's draft."""

    kind: str | None = None
    level: str | None = None
    title: str | None = None
    people: int | None = None
    escorts: int = 0
    day: date | None = None
    start: time | None = None
    end: time | None = None
    venue: str | None = None
    needs: list[str] = Field(default_factory=list)
    needs_done: bool = False
    meal_budget: int | None = None
    meal_done: bool = False
    contact: str | None = None
    note: str | None = None
    note_done: bool = False
    weeks: int | None = None
    step: str = "kind"
    token: str = Field(default_factory=lambda: secrets.token_hex(8))


def _load(context: HouqinContext) -> ServiceDraft | None:
    return load_draft(context, DRAFT, ServiceDraft)


def _save(context: HouqinContext, draft: ServiceDraft) -> None:
    save_draft(context, DRAFT, draft)


def class_of(context: HouqinContext, draft: ServiceDraft) -> str | None:
    """The class key the draft falls in so far."""
    settings = context.services.profile.bookings
    if draft.kind is None or (draft.kind != "reception" and draft.people is None):
        return None
    found = settings.class_for(draft.kind, draft.people or 0, draft.level)
    return found.key if found else None


def _next_step(context: HouqinContext, draft: ServiceDraft) -> str:
    settings = context.services.profile.bookings
    if draft.kind is None:
        return "kind"
    if draft.kind == "reception" and draft.level is None:
        return "level"
    for step in ("title", "people", "day"):
        if getattr(draft, step) is None:
            return step
    if draft.start is None:
        return "time"
    if draft.venue is None:
        return "venue"
    if not draft.needs_done:
        return "needs"
    meal = any(settings.need(n).meal for n in draft.needs if _known_need(context, n))
    if draft.kind == "reception" and meal and not draft.meal_done:
        return "meal"
    if draft.contact is None:
        return "contact"
    if not draft.note_done:
        return "note"
    if draft.weeks is None:
        return "weeks"
    return "summary"


def _known_need(context: HouqinContext, key: str) -> bool:
    return any(n.key == key for n in context.services.profile.bookings.needs)


def _moment(context: HouqinContext, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=context.services.profile.tz)


def request_of(context: HouqinContext, draft: ServiceDraft, *, weeks: int | None = None) -> Request:
    """The request a complete draft makes (from the venue step on; `weeks` before it is
    asked)."""
    assert draft.kind and draft.title and draft.people and draft.day and draft.venue
    assert draft.start is not None and draft.end is not None
    klass = class_of(context, draft)
    assert klass is not None
    return Request(
        kind=draft.kind,
        class_key=klass,
        title=draft.title,
        venue_key=draft.venue,
        starts_at=_moment(context, draft.day, draft.start),
        ends_at=_moment(context, draft.day, draft.end),
        people=draft.people,
        escorts=draft.escorts,
        meal_budget=draft.meal_budget,
        needs=tuple(draft.needs),
        contact=draft.contact or "",
        note=draft.note,
        weeks=weeks or draft.weeks or 1,
    )


# --- prompts -----------------------------------------------------------------------------------


def step_prompt(
    context: HouqinContext, draft: ServiceDraft, step: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context._
    services = context.services
    settings, tz = services.profile.bookings, services.profile.tz
    if step == "kind":
        buttons = [
            form_button(_(told.KIND_LABELS[k]), FormChoice.KIND, k) for k in told.KIND_LABELS
        ]
        return _("What do you need the logistics office for?"), keyboard([buttons])
    if step == "level":
        rows = [
            [form_button(c.name, FormChoice.LEVEL, c.key)] for c in settings.classes_of("reception")
        ]
        lines = [_("Which level of reception?")]
        lines += [
            f"• {esc(c.name)}: {esc(c.description)}" for c in settings.classes_of("reception")
        ]
        return "\n".join(lines), keyboard(rows)
    if step == "title":
        return _("The subject, in one line (e.g. 行政会, 市教育局调研)."), None
    if step == "people":
        if draft.kind == "reception":
            return _("How many guests, and how many escorts from the school? e.g. 8+3"), None
        return _("How many people will attend?"), None
    if step == "day":
        klass = settings.booking_class(class_of(context, draft) or "")
        today = services.local_now().date()
        first = store.earliest_day(services.profile.calendar, today, klass.lead_days)
        days = [first + timedelta(days=i) for i in range(14)]
        days = [d for d in days if services.profile.calendar.is_working_day(d)][:8]
        buttons = [form_button(told.day_label(d, _), FormChoice.DAY, d.isoformat()) for d in days]
        text = _(
            "Which day? ({klass}: at least {days} working day(s) ahead.) Or type it: 12-03"
        ).format(klass=esc(klass.name), days=klass.lead_days)
        return text, keyboard([buttons[i : i + 4] for i in range(0, len(buttons), 4)])
    if step == "time":
        return _("From when to when? e.g. 14:00-16:00"), None
    if step == "venue":
        assert draft.people is not None
        rows = [
            [form_button(f"{v.name} ({v.capacity})", FormChoice.VENUE, v.key)]
            for v in settings.venues
            if v.capacity >= draft.people
        ]
        return _("Where? Venues holding {people}:").format(people=draft.people), keyboard(rows)
    if step == "needs":
        needs: list[InlineKeyboardButton] = []
        for need in settings.needs:
            mark = "✅ " if need.key in draft.needs else ""
            needs.append(form_button(mark + need.name, FormChoice.NEED, need.key))
        grid = [needs[i : i + 3] for i in range(0, len(needs), 3)]
        grid.append([form_button(_("Done"), FormChoice.NEEDS_DONE)])
        return _("What is needed? Tap all that apply, then Done."), keyboard(grid)
    if step == "meal":
        return _("Meal budget per head in yuan (at most {cap})?").format(
            cap=settings.frugality.meal_cap_per_head
        ), None
    if step == "contact":
        person = context.person
        name = person.name if person is not None else ""
        return _("Contact person and phone? Type them, or use your name."), keyboard(
            [[form_button(_("Me: {name}").format(name=name), FormChoice.CONTACT_ME)]]
        )
    if step == "note":
        return _("Anything else the staff should know? Type it, or Skip."), keyboard(
            [[form_button(_("Skip"), FormChoice.SKIP_NOTE)]]
        )
    if step == "weeks":
        buttons = [
            form_button(
                _("Once") if n == 1 else _("Weekly ×{count}").format(count=n), FormChoice.WEEKS, n
            )
            for n in WEEK_CHOICES
            if n <= settings.max_weeks
        ]
        return _("Once, or the same time every week? (Or type the number of weeks.)"), keyboard(
            [buttons[:3], buttons[3:]]
        )
    request = request_of(context, draft)
    probe = Booking(
        number="",
        series="",
        token="",
        requester_telegram_id=0,
        requester_name=context.person.name if context.person else "",
        kind=request.kind,
        class_key=request.class_key,
        title=request.title,
        venue_key=request.venue_key,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        people=request.people,
        escorts=request.escorts,
        meal_budget=request.meal_budget,
        needs=list(request.needs),
        contact=request.contact,
        note=request.note,
        created_at=request.starts_at,
    )
    text = (
        _("<b>Please check your request</b>")
        + "\n"
        + told.card(settings, probe, tz, _, steps=False, status=False)
    )
    if request.weeks > 1:
        text += "\n" + _("Weekly ×{count}").format(count=request.weeks)
    klass = settings.booking_class(request.class_key)
    if klass.approval:
        text += "\n" + _("A {klass} needs the director's approval.").format(klass=esc(klass.name))
    return text, keyboard(
        [
            [
                form_button(_("Submit"), FormChoice.SUBMIT),
                form_button(_("Cancel"), FormChoice.CANCEL),
            ]
        ]
    )


async def prompt(
    update: Update, context: HouqinContext, draft: ServiceDraft, *, prefix: str = ""
) -> str:
    """Ask the draft's next step; returns it."""
    await opening(context)
    step = _next_step(context, draft)
    draft.step = step
    _save(context, draft)
    text, markup = step_prompt(context, draft, step)
    user = update.effective_user
    assert user is not None
    await context.bot.send_message(user.id, prefix + text, reply_markup=markup)
    return step


# --- entry and the end -------------------------------------------------------------------------


async def service_command(update: Update, context: HouqinContext) -> object:
    """/service or the menu button, in the private chat."""
    if await require_role(update, context, ANYONE) is None:
        return None
    draft = _load(context)
    if draft is not None:
        return await prompt(
            update, context, draft, prefix=context._("Continuing your service request.") + "\n"
        )
    return await prompt(update, context, ServiceDraft())


async def cancel(update: Update, context: HouqinContext) -> object:
    """/cancel in the form."""
    drop_draft(context, DRAFT)
    await reply(update, context, context._("Service request cancelled. Nothing was filed."))
    return END


async def refused(
    update: Update,
    context: HouqinContext,
    draft: ServiceDraft,
    refusals: list[Refusal],
    *,
    step: str | None = None,
) -> str:
    """Say why, and go back to the step that can fix it (`step`, or the first reason's)."""
    step = step or REFUSED_AT.get(refusals[0].reason, "day")
    _clear_from(draft, step)
    head = context._("Not possible as asked:") + "\n" + told.refusals_text(refusals, context._)
    return await prompt(update, context, draft, prefix=head + "\n\n")


def _clear_from(draft: ServiceDraft, step: str) -> None:
    if step == "title":
        draft.title = None
    elif step == "people":
        draft.people, draft.escorts = None, 0
    elif step == "day":
        draft.day = None
    elif step == "time":
        draft.start = draft.end = None
    elif step == "venue":
        draft.venue = None
    elif step == "meal":
        draft.meal_budget, draft.meal_done = None, False
    elif step == "note":
        draft.note, draft.note_done = None, False
    elif step == "weeks":
        draft.weeks = None


async def submit(update: Update, context: HouqinContext, draft: ServiceDraft) -> object:
    """File the request (stored first, then answered); refused with why, or with the free
    slots and venues when the venue is taken."""
    services = context.services
    user = update.effective_user
    assert user is not None
    person = context.person
    requester = Requester(
        user.id,
        person.name if person is not None else user.full_name,
        person.id if person is not None else None,
        context.language,
    )
    request = request_of(context, draft)
    try:
        _, key = await act.file(services, request, requester, token=draft.token)
    except act.Refused as refusal:
        if refusal.refusals:
            return await refused(update, context, draft, refusal.refusals)
        draft.venue = None
        text, markup = venue_taken_text(context, refusal.taken, request)
        _save(context, draft)
        draft.step = "venue"
        await context.bot.send_message(user.id, text, reply_markup=markup)
        return "venue"
    drop_draft(context, DRAFT)
    await outbox.send_now(context.bot, services, key)
    outbox.deliver_soon(context.bot, services)
    return END
