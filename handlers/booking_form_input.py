"""The service request form's input: its buttons and typed answers, each checked against
the step (and the rules it can check at once) before the next step is asked."""

from __future__ import annotations

from datetime import date, time

from telegram import Update

from actions import bookings as act
from handlers.booking_form import (
    _DAY,
    _PEOPLE,
    _TIME,
    MAX_TITLE,
    ServiceDraft,
    _load,
    _moment,
    _save,
    class_of,
    prompt,
    refused,
    request_of,
    step_prompt,
    submit,
)
from handlers.booking_views import venue_taken_text
from handlers.common import reply, typed_text
from handlers.context import HouqinContext
from handlers.forms import END, drop_draft
from notices import bookings as told
from notices.bookings import BookingFormButton, FormChoice
from notices.render import esc
from storage import bookings as store
from storage.bookings import Refusal


async def _stale(update: Update, context: HouqinContext) -> object:
    query = update.callback_query
    assert query is not None
    await query.answer(context._("That step is over; see the latest message."), show_alert=True)
    return None


async def button_pressed(update: Update, context: HouqinContext, data: BookingFormButton) -> object:
    """A button of the form."""
    query = update.callback_query
    assert query is not None
    draft = _load(context)
    _ = context._
    settings = context.services.profile.bookings
    if draft is None:
        await query.answer(_("This form is closed. Send /service to start again."), show_alert=True)
        return END
    choice, value, step = data.choice, data.value, draft.step
    chosen: str | None = None
    if choice == FormChoice.KIND and step == "kind" and value in told.KIND_LABELS:
        draft.kind = value
        chosen = _(told.KIND_LABELS[value])
    elif choice == FormChoice.LEVEL and step == "level":
        found = [c for c in settings.classes_of("reception") if c.key == value]
        if not found:
            return await _stale(update, context)
        draft.level, chosen = value, found[0].name
    elif choice == FormChoice.DAY and step == "day":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return await _stale(update, context)
        await query.answer()
        return await _day_given(update, context, draft, day)
    elif choice == FormChoice.VENUE and step == "venue":
        await query.answer()
        return await _venue_given(update, context, draft, value)
    elif choice == FormChoice.NEED and step == "needs":
        if not any(n.key == value for n in settings.needs):
            return await _stale(update, context)
        draft.needs = (
            [n for n in draft.needs if n != value]
            if value in draft.needs
            else [*draft.needs, value]
        )
        _save(context, draft)
        text, markup = step_prompt(context, draft, "needs")
        await query.edit_message_text(text, reply_markup=markup)
        return None
    elif choice == FormChoice.NEEDS_DONE and step == "needs":
        draft.needs_done = True
        chosen = _("Needs: {value}").format(value=told.needs_text(settings, draft.needs, _))
    elif choice == FormChoice.CONTACT_ME and step == "contact":
        person = context.person
        draft.contact = person.name if person is not None else query.from_user.full_name
        chosen = _("Contact: {value}").format(value=draft.contact)
    elif choice == FormChoice.SKIP_NOTE and step == "note":
        draft.note, draft.note_done = None, True
        chosen = _("No note.")
    elif choice == FormChoice.WEEKS and step == "weeks" and value.isdigit():
        await query.answer()
        return await _weeks_given(update, context, draft, int(value))
    elif choice == FormChoice.SUBMIT and step == "summary":
        await query.answer()
        await query.edit_message_reply_markup(None)
        return await submit(update, context, draft)
    elif choice == FormChoice.CANCEL and step == "summary":
        drop_draft(context, "bk_form")
        await query.edit_message_text(_("Service request cancelled. Nothing was filed."))
        return END
    else:
        return await _stale(update, context)
    if chosen is not None:
        await query.edit_message_text("✓ " + esc(chosen))
    return await prompt(update, context, draft)


async def message_given(update: Update, context: HouqinContext) -> object:
    """A typed answer (stickers, voice and the like are told what the step wants)."""
    draft = _load(context)
    if draft is None:
        return END
    _ = context._
    step = draft.step
    if step in ("kind", "level", "needs", "summary"):
        await reply(update, context, _("Please use the buttons above."))
        return None
    limit = MAX_TITLE if step in ("title", "note", "contact") else 40
    want = {
        "title": _("Please type the subject in words."),
        "people": _("Please type a number, e.g. 25 (a reception: 8+3)."),
        "day": _("Please type a date like 12-03, or use the buttons."),
        "time": _("Please type the time like 14:00-16:00."),
        "venue": _("Please choose a venue with the buttons."),
        "meal": _("Please type the budget per head as a number, e.g. 50."),
        "contact": _("Please type the contact person and phone."),
        "note": _("Please type the note, or press Skip."),
        "weeks": _("Please type the number of weeks, or use the buttons."),
    }.get(step, _("Please use the buttons above."))
    text = await typed_text(update, context, limit, if_empty=want)
    if text is None:
        return None
    if step == "title":
        draft.title = text
        return await _check_words(update, context, draft, "title")
    if step == "people":
        match = _PEOPLE.match(text)
        if match is None or int(match.group(1)) < 1:
            await reply(update, context, want)
            return None
        first, second = int(match.group(1)), int(match.group(2) or 0)
        draft.people = first + second if draft.kind == "reception" else first
        draft.escorts = second if draft.kind == "reception" else 0
        if class_of(context, draft) is None:
            await reply(update, context, want)
            draft.people = None
            return None
        if draft.kind == "reception":
            allowed = context.services.profile.bookings.frugality.max_escorts(first)
            if second > allowed:
                refusal = Refusal("escorts", {"guests": first, "max": allowed})
                return await refused(update, context, draft, [refusal])
        return await prompt(update, context, draft)
    if step == "day":
        day = _parse_day(text, context.services.local_now().date())
        if day is None:
            await reply(update, context, want)
            return None
        return await _day_given(update, context, draft, day)
    if step == "time":
        match = _TIME.match(text)
        if match is None:
            await reply(update, context, want)
            return None
        try:
            start = time(int(match.group(1)), int(match.group(2)))
            end = time(int(match.group(3)), int(match.group(4)))
        except ValueError:
            await reply(update, context, want)
            return None
        return await _time_given(update, context, draft, start, end)
    if step == "meal":
        if not text.isdigit():
            await reply(update, context, want)
            return None
        draft.meal_budget, draft.meal_done = int(text), True
        cap = context.services.profile.bookings.frugality.meal_cap_per_head
        if draft.meal_budget > cap:
            return await refused(update, context, draft, [Refusal("meal_cap", {"cap": cap})])
        return await prompt(update, context, draft)
    if step == "contact":
        draft.contact = text
        return await prompt(update, context, draft)
    if step == "note":
        draft.note, draft.note_done = text, True
        return await _check_words(update, context, draft, "note")
    if step == "weeks":
        if not text.isdigit():
            await reply(update, context, want)
            return None
        return await _weeks_given(update, context, draft, int(text))
    await reply(update, context, want)
    return None


def _parse_day(text: str, today: date) -> date | None:
    match = _DAY.match(text)
    if match is None:
        return None
    year = int(match.group(1) or today.year)
    try:
        day = date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    if match.group(1) is None and day < today:
        day = day.replace(year=year + 1)
    return day


async def _check_words(
    update: Update, context: HouqinContext, draft: ServiceDraft, step: str
) -> object:
    """A reception's subject or note asking for what the rules forbid is refused at once."""
    rules = context.services.profile.bookings.frugality
    text = getattr(draft, step) or ""
    if draft.kind == "reception":
        for word in rules.forbidden_words:
            if word in text:
                refusal = Refusal("forbidden", {"word": word})
                return await refused(update, context, draft, [refusal], step=step)
    return await prompt(update, context, draft)


async def _day_given(
    update: Update, context: HouqinContext, draft: ServiceDraft, day: date
) -> object:
    services = context.services
    settings = services.profile.bookings
    klass = settings.booking_class(class_of(context, draft) or "")
    earliest = store.earliest_day(
        services.profile.calendar, services.local_now().date(), klass.lead_days
    )
    if day < earliest:
        refusal = Refusal(
            "lead_time", {"days": klass.lead_days, "klass": klass.name, "day": earliest}
        )
        return await refused(update, context, draft, [refusal])
    draft.day = day
    return await prompt(update, context, draft)


async def _time_given(
    update: Update, context: HouqinContext, draft: ServiceDraft, start: time, end: time
) -> object:
    settings = context.services.profile.bookings
    assert draft.day is not None
    problems = []
    if end <= start:
        problems.append(Refusal("order"))
    elif start < settings.day_start or end > settings.day_end:
        problems.append(Refusal("hours", {"start": settings.day_start, "end": settings.day_end}))
    elif _moment(context, draft.day, start) <= context.services.now():
        problems.append(Refusal("past"))
    if problems:
        return await refused(update, context, draft, problems)
    draft.start, draft.end = start, end
    return await prompt(update, context, draft)


async def _venue_given(
    update: Update, context: HouqinContext, draft: ServiceDraft, key: str
) -> object:
    services = context.services
    settings = services.profile.bookings
    try:
        venue = settings.venue(key)
    except KeyError:
        return await _stale(update, context)
    assert draft.people is not None and draft.day and draft.start and draft.end
    if venue.capacity < draft.people:
        refusal = Refusal("capacity", {"venue": venue.name, "capacity": venue.capacity})
        return await refused(update, context, draft, [refusal])
    draft.venue = key
    request = request_of(context, draft)
    try:
        await act.check(services, request)
    except act.Refused as refusal:
        if refusal.taken:
            draft.venue = None
            _save(context, draft)
            text, markup = venue_taken_text(context, refusal.taken, request)
            user = update.effective_user
            assert user is not None
            await context.bot.send_message(user.id, text, reply_markup=markup)
            return None
    query = update.callback_query
    if query is not None:
        await query.edit_message_text("✓ " + esc(venue.name))
    return await prompt(update, context, draft)


async def _weeks_given(
    update: Update, context: HouqinContext, draft: ServiceDraft, weeks: int
) -> object:
    settings = context.services.profile.bookings
    if not 1 <= weeks <= settings.max_weeks:
        return await refused(
            update, context, draft, [Refusal("weeks", {"max": settings.max_weeks})]
        )
    draft.weeks = weeks
    return await prompt(update, context, draft)
