"""Meeting and reception services' use cases: each is the storage change and its notices in
ONE transaction (request, approve, reject, tick, photo, rate; the jobs' reminders, escalation
and finishing). The caller answers the person acting and starts the delivery afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup

from notices import bookings as told
from notices import outbox
from notices.recipients import (
    Markup,
    Message,
    group_translator,
    tell,
    tell_group,
    translator_for,
)
from notices.render import esc
from notices.services import Services
from school.booking_profile import Venue
from school.i18n import N_, Translate, translator
from storage import bookings as store
from storage import people
from storage.booking_models import Booking, BookingStatus
from storage.bookings import BookingMove, Change, Refusal, Request, Requester
from storage.models import GroupPurpose, Person


@dataclass(frozen=True)
class Taken:
    """A venue taken at one occurrence: the day's free slots and similar free venues."""

    day: date
    number: str
    slots: list[tuple[time, time]]
    alternatives: list[Venue]


@dataclass
class Refused(Exception):
    """The request is not allowed: the rules it breaks, or the venue taken."""

    refusals: list[Refusal] = field(default_factory=list)
    taken: list[Taken] = field(default_factory=list)


async def check(services: Services, request: Request, session: AsyncSession | None = None) -> None:
    """Raise Refused when a rule or a venue conflict does not allow the request."""
    settings, profile = services.profile.bookings, services.profile
    refusals = store.check_rules(
        settings, profile.calendar, request, now=services.now(), tz=profile.tz
    )
    if refusals:
        raise Refused(refusals)
    if session is None:
        async with services.database.reading() as reading:
            await _check_venue(services, request, reading)
    else:
        await _check_venue(services, request, session)


async def _check_venue(services: Services, request: Request, session: AsyncSession) -> None:
    settings, tz = services.profile.bookings, services.profile.tz
    found = await store.conflicts(session, request)
    if not found:
        return
    venue = settings.venue(request.venue_key)
    alternatives = await store.free_venues(
        session, settings, venue, request.people, request.occurrences()
    )
    taken = []
    for conflict in found[:3]:
        day = conflict.starts_at.astimezone(tz).date()
        slots = await store.free_slots(session, settings, request.venue_key, day, tz)
        taken.append(Taken(day, conflict.taken_by.number, slots, alternatives))
    raise Refused(taken=taken)


# --- filing --------------------------------------------------------------------------------


def _requester_key(token: str) -> str:
    return f"bk:{token}:filed"


async def file(
    services: Services, request: Request, requester: Requester, *, token: str
) -> tuple[list[Booking], str]:
    """File a request (checked again in the transaction); (bookings, the key of the
    requester's confirmation, sent by the caller with `outbox.send_now`). Raises Refused."""
    settings = services.profile.bookings
    async with services.database.transaction() as session:
        existing = await store.by_token(session, token)
        if not existing:
            await check(services, request, session)
        filed, created = await store.file_request(
            session, settings, request, requester, token=token, now=services.now()
        )
        if created:
            first = filed[0]
            await outbox.notify(
                session,
                services,
                key=_requester_key(token),
                chat_id=requester.telegram_id,
                text=_filed_text(services, filed, told_translator(services, requester)),
                markup=told.cancel_keyboard(first, told_translator(services, requester)),
                send_after_commit=True,
            )
            if first.status == BookingStatus.PENDING:
                await _ask_directors(session, services, filed)
            else:
                await _assign(session, services, filed)
    return filed, _requester_key(token)


def told_translator(services: Services, requester: Requester) -> Translate:
    """The requester's language (the one the form was answered in)."""
    return translator(requester.language or services.settings.language.value)


def _filed_text(services: Services, filed: Sequence[Booking], _: Translate) -> str:
    settings, tz = services.profile.bookings, services.profile.tz
    first = filed[0]
    lines = [told.card(settings, first, tz, _, steps=False)]
    if len(filed) > 1:
        lines.append(
            _("Weekly, {count} times: {days}").format(
                count=len(filed),
                days=", ".join(told.day_label(b.starts_at.astimezone(tz), _) for b in filed),
            )
        )
    if first.status == BookingStatus.PENDING:
        lines.append(_("Sent to the director for approval; you will hear the decision here."))
    else:
        lines.append(
            _("Accepted and assigned to {posts}; you will see the preparation here.").format(
                posts=_posts_text(services, first.posts)
            )
        )
    return "\n".join(lines)


def _posts_text(services: Services, posts: Sequence[str]) -> str:
    names = []
    for key in posts:
        try:
            names.append(services.profile.post(key).name)
        except KeyError:
            names.append(key)
    return "、".join(names)


async def _ask_directors(
    session: AsyncSession, services: Services, filed: Sequence[Booking]
) -> None:
    settings, tz = services.profile.bookings, services.profile.tz
    first = filed[0]

    def message(_: Translate) -> str:
        text = (
            _("<b>Approval requested</b>") + "\n" + told.card(settings, first, tz, _, steps=False)
        )
        if len(filed) > 1:
            text += "\n" + _("Weekly, {count} times").format(count=len(filed))
        return text

    for director in await people.active_directors(session):
        await tell(
            session,
            services,
            director,
            f"bk:{first.series}:decide:{director.id}",
            message,
            lambda _: told.decision_keyboard(first, _),
        )


async def _assign(session: AsyncSession, services: Services, filed: Sequence[Booking]) -> None:
    """Post the work to the staff group and give each responsible staff member the checklist
    of the first occurrence (later ones come with their reminders)."""
    settings, tz = services.profile.bookings, services.profile.tz
    first = filed[0]

    def card(_: Translate) -> str:
        return _group_card(services, first, len(filed), _)

    await tell_group(session, services, GroupPurpose.STAFF, f"bk:{first.series}:group", card)
    for person in await store.staff_of_posts(session, first.posts):
        await tell(
            session,
            services,
            person,
            f"bk:{first.id}:task:{person.id}",
            lambda _: _("<b>Your service task</b>") + "\n" + told.card(settings, first, tz, _),
            lambda _: told.checklist_keyboard(settings, first, _),
        )


# --- the director's decision ---------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    """A decision on a series: the bookings as they are now, and whether anything changed."""

    bookings: list[Booking]
    changed: bool


async def decide(
    services: Services, booking_id: int, director: Person, *, approve: bool, reason: str = ""
) -> Decided:
    """Approve (assign) or reject (with the reason the requester reads) a whole series."""
    settings, tz = services.profile.bookings, services.profile.tz
    what = BookingMove.APPROVE if approve else BookingMove.REJECT
    async with services.database.transaction() as session:
        booking = await store.get(session, booking_id)
        if booking is None:
            raise LookupError(booking_id)
        changed: list[Booking] = []
        for item in await store.series(session, booking.series):
            assert item.id is not None
            change = await store.move(
                session, item.id, what, director, now=services.now(), reason=reason
            )
            if change.changed:
                changed.append(change.booking)
        everything = await store.series(session, booking.series)
        if not changed:
            return Decided(everything, False)
        requester = await _requester(session, changed[0])
        if requester is not None:

            def message(_: Translate) -> str:
                head = (
                    _("✅ Your request was approved.")
                    if approve
                    else _("❌ Your request was rejected: {reason}").format(reason=esc(reason))
                )
                return head + "\n" + told.card(settings, changed[0], tz, _, steps=False)

            await tell(session, services, requester, f"bk:{booking.series}:decided", message)
        if approve:
            await _assign(session, services, changed)
    return Decided(everything, True)


async def _requester(session: AsyncSession, booking: Booking) -> Person | None:
    return await people.get_person_by_telegram_id(session, booking.requester_telegram_id)


async def withdraw(services: Services, booking_id: int, person: Person) -> list[Booking]:
    """The requester (or the director) withdraws the occurrences of a series that have not
    taken place; the staff group (or the director, while it waited for approval) hears of it.
    Returns the bookings withdrawn (none: all had moved on)."""
    settings, tz = services.profile.bookings, services.profile.tz
    async with services.database.transaction() as session:
        booking = await store.get(session, booking_id)
        if booking is None:
            raise LookupError(booking_id)
        withdrawn: list[tuple[BookingStatus | None, Booking]] = []
        for item in await store.series(session, booking.series):
            assert item.id is not None
            if item.starts_at <= services.now():
                continue
            change = await store.move(
                session, item.id, BookingMove.CANCEL, person, now=services.now()
            )
            if change.changed:
                withdrawn.append((change.before, change.booking))
        if not withdrawn:
            return []
        first = withdrawn[0][1]

        def message(_: Translate) -> str:
            days = ", ".join(told.period_label(b, tz, _) for _s, b in withdrawn)
            return (
                _("{number} was withdrawn by {name}: {days}").format(
                    number=esc(first.number), name=esc(person.name), days=days
                )
                + "\n"
                + told.card(settings, first, tz, _, steps=False)
            )

        key = f"bk:{first.series}:withdrawn"
        if any(before != BookingStatus.PENDING for before, _b in withdrawn):
            await tell_group(session, services, GroupPurpose.STAFF, key, message)
        else:
            for director in await people.active_directors(session):
                await tell(session, services, director, f"{key}:{director.id}", message)
    return [b for _s, b in withdrawn]


# --- doing it --------------------------------------------------------------------------------


async def tick(services: Services, booking_id: int, step: str, actor: Person) -> Change:
    """Tick (or untick) a step; the requester's progress message follows."""
    settings = services.profile.bookings
    async with services.database.transaction() as session:
        booking = await store.get(session, booking_id)
        if booking is None:
            raise LookupError(booking_id)
        steps = told.steps_of(settings, booking)
        if step not in steps:
            return Change(booking, False)
        change = await store.move(
            session,
            booking_id,
            BookingMove.TICK,
            actor,
            now=services.now(),
            step=step,
            steps=steps,
            after=settings.after_steps(steps),
        )
        if change.changed:
            await _progress(session, services, change.booking)
    return change


def _group_card(services: Services, first: Booking, count: int, _: Translate) -> str:
    """The staff group's card of a request: its first occurrence with the checklist."""
    settings, tz = services.profile.bookings, services.profile.tz
    text = _("<b>New service request</b>") + "\n" + told.card(settings, first, tz, _)
    if count > 1:
        text += "\n" + _("Weekly, {count} times").format(count=count)
    return text


async def _progress(session: AsyncSession, services: Services, booking: Booking) -> None:
    """The requester's progress message (sent at the first tick, then edited) and the staff
    group's card, which shows the first occurrence's checklist."""
    occurrences = await store.series(session, booking.series)
    if occurrences and occurrences[0].id == booking.id:
        text = _group_card(services, booking, len(occurrences), group_translator(services))
        await outbox.queue_edit(session, services, of=f"bk:{booking.series}:group", text=text)
    requester = await _requester(session, booking)
    if requester is None:
        return
    settings, tz = services.profile.bookings, services.profile.tz
    _ = translator_for(requester, services)
    done, total = told.progress(settings, booking)
    if booking.status == BookingStatus.READY:
        head = _("✅ {number} is ready: {done}/{total} done.")
    elif booking.status == BookingStatus.ASSIGNED:
        head = _("{number} is being prepared: {done}/{total} done.")
    else:
        head = _("{number}: {done}/{total} done.")
    head = head.format(number=esc(booking.number), done=done, total=total)
    text = head + "\n" + told.card(settings, booking, tz, _)
    key = f"bk:{booking.id}:progress"
    if not await outbox.queue_edit(session, services, of=key, text=text):
        await outbox.notify(session, services, key=key, chat_id=requester.telegram_id, text=text)


async def add_photo(services: Services, booking_id: int, file_id: str, actor: Person) -> Booking:
    """Keep the photo of the set-up room and send it to the requester."""
    async with services.database.transaction() as session:
        booking = await store.get(session, booking_id)
        if booking is None:
            raise LookupError(booking_id)
        if not store.may(BookingMove.TICK, booking, actor):
            raise store.NotAllowed("photo")
        await store.set_photo(session, booking_id, file_id, actor)
        requester = await _requester(session, booking)
        if requester is not None:
            _ = translator_for(requester, services)
            await outbox.notify(
                session,
                services,
                key=f"bk:{booking_id}:photo:{file_id[-24:]}",
                chat_id=requester.telegram_id,
                text=_("📷 {number}: the set-up room.").format(number=esc(booking.number)),
                photo_file_id=file_id,
            )
    return booking


async def rate(services: Services, booking_id: int, stars: int, requester: Person) -> Change:
    """The requester confirms and rates; the staff who did it hear of it."""
    async with services.database.transaction() as session:
        change = await store.move(
            session, booking_id, BookingMove.RATE, requester, now=services.now(), rating=stars
        )
        if change.changed:
            for person_id in await store.workers(session, booking_id):
                person = await session.get(Person, person_id)
                if person is None:
                    continue
                await tell(
                    session,
                    services,
                    person,
                    f"bk:{booking_id}:rated:{person_id}",
                    lambda _: _("{number} was rated {stars} by {name}.").format(
                        number=esc(change.booking.number),
                        stars="★" * stars,
                        name=esc(change.booking.requester_name),
                    ),
                )
    return change


async def comment(services: Services, booking_id: int, requester: Person, text: str) -> bool:
    """The requester's comment on their rating."""
    async with services.database.transaction() as session:
        return await store.add_comment(session, booking_id, requester.telegram_id, text)


# --- the clock's work ------------------------------------------------------------------------


def _card_after(services: Services, booking: Booking, head: str) -> Message:
    """A message: `head` (a msgid with {number}) and the booking's card."""
    settings, tz = services.profile.bookings, services.profile.tz

    def message(_: Translate) -> str:
        return (
            _(head).format(number=esc(booking.number)) + "\n" + told.card(settings, booking, tz, _)
        )

    return message


REMINDER = N_("⏰ <b>Reminder</b>: the checklist of {number} is not done yet.")
ESCALATION = N_("⚠️ <b>{number} starts soon and its checklist is not done</b>")
RATE_NOW = N_("{number} is over. Please confirm and rate the service:")


async def check_bookings(services: Services) -> dict[str, int]:
    """Reminders to the staff before the start, the director told of a checklist still open
    one hour before, and finished bookings offered for rating: each once per booking."""
    profile = services.profile
    settings = profile.bookings
    now = services.now()
    counts = {"reminded": 0, "escalated": 0, "finished": 0}
    async with services.database.transaction() as session:
        horizon = now + settings.remind_delta() + store.MAX_REMINDER_SHIFT
        for booking in await store.unfinished_before(session, horizon, "reminded_at", now):
            assert booking.id is not None
            if store.remind_at(settings, profile.calendar, booking.starts_at, profile.tz) > now:
                continue
            if not await store.stamp(session, booking.id, "reminded_at", now):
                continue
            counts["reminded"] += 1
            keys = _keyboard_of(services, booking)
            for person in await store.staff_of_posts(session, booking.posts):
                key = f"bk:{booking.id}:remind:{person.id}"
                await tell(
                    session, services, person, key, _card_after(services, booking, REMINDER), keys
                )
        for booking in await store.unfinished_before(
            session, now + settings.escalate_delta(), "escalated_at", now
        ):
            assert booking.id is not None
            if not await store.stamp(session, booking.id, "escalated_at", now):
                continue
            counts["escalated"] += 1
            for director in await people.active_directors(session):
                key = f"bk:{booking.id}:escalate:{director.id}"
                await tell(
                    session, services, director, key, _card_after(services, booking, ESCALATION)
                )
        for booking in await store.over(session, now):
            assert booking.id is not None
            change = await store.move(session, booking.id, BookingMove.FINISH, None, now=now)
            if not change.changed:
                continue
            counts["finished"] += 1
            requester = await _requester(session, booking)
            if requester is not None:
                stars = _stars_of(change.booking)
                message = _card_after(services, change.booking, RATE_NOW)
                await tell(session, services, requester, f"bk:{booking.id}:rate", message, stars)
    return counts


def _keyboard_of(services: Services, booking: Booking) -> Markup:
    def markup(_: Translate) -> InlineKeyboardMarkup | None:
        return told.checklist_keyboard(services.profile.bookings, booking, _)

    return markup


def _stars_of(booking: Booking) -> Markup:
    def markup(_: Translate) -> InlineKeyboardMarkup:
        return told.stars_keyboard(booking)

    return markup
