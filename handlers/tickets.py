"""Repairs (报修): ticket cards in the repair group, handling buttons, /mytickets and /tickets.

The report form lives in handlers/ticket_form.py; both share one ConversationHandler keyed by
user (so a button pressed in the repair group continues in the presser's private chat).
Reporter, follower and assignee messages go through the outbox; card edits are direct.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers.common import private_chat, refuse_if_too_long, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import Form
from handlers.menu import menu_filter
from notices import outbox
from notices.render import button, esc, keyboard, language_of, split_text
from notices.services import Services
from school.i18n import N_, Translate, translator
from school.profile import SchoolProfile
from storage import groups, people
from storage import outbox as outbox_store
from storage import tickets as store
from storage.models import GroupPurpose, Person, Role, Ticket, TicketEvent, TicketStatus

log = logging.getLogger(__name__)

PREFIX = "tk"
CONVERSATION = "tickets"
FORM = "form"  # the report form (handlers/ticket_form.py)
ACT = "act"  # a multi-step handling input (reason, date, result, note, comment)
MAX_REASON = 200
MAX_COMMENT = 300
MAX_DEFER_DAYS = 90
MY_TICKETS_SHOWN = 10
CAPTION_LIMIT = 1024

STATUS_LABELS = {
    TicketStatus.OPEN: N_("Waiting to be taken"),
    TicketStatus.ACCEPTED: N_("Taken"),
    TicketStatus.IN_PROGRESS: N_("Being repaired"),
    TicketStatus.DEFERRED: N_("Deferred"),
    TicketStatus.AWAITING_ACCEPTANCE: N_("Waiting for acceptance"),
    TicketStatus.REWORK: N_("Rework"),
    TicketStatus.CLOSED: N_("Completed"),
    TicketStatus.REJECTED: N_("Returned"),
    TicketStatus.CANCELLED: N_("Withdrawn"),
}
RESULT_LABELS = {
    "fixed": N_("Fixed"),
    "replaced": N_("Replaced with a new one"),
    "unfixable": N_("Cannot be fixed"),
}


# --- small helpers -------------------------------------------------------------------------------


def status_label(status: str, _: Translate) -> str:
    """The translated name of a ticket status."""
    return _(STATUS_LABELS[TicketStatus(status)])


def category_name(profile: SchoolProfile, key: str) -> str:
    """The profile's name of a category (the key when it was removed from the profile)."""
    try:
        return profile.category(key).name
    except KeyError:
        return key


def urgency_name(profile: SchoolProfile, key: str) -> str:
    """The profile's name of an urgency."""
    try:
        return profile.urgency(key).name
    except KeyError:
        return key


def local_time(services: Services, moment: datetime) -> str:
    """A short school-time stamp: 11-23 09:00."""
    return moment.astimezone(services.profile.tz).strftime("%m-%d %H:%M")


def stars(rating: int) -> str:
    """★★★★☆."""
    return "★" * rating + "☆" * (5 - rating)


def group_translator(services: Services) -> Translate:
    """The language of group messages: the deployment's default."""
    return translator(services.settings.language.value)


def short_number(ticket: Ticket) -> str:
    """The per-month sequence of a ticket number, for tight buttons (BX-2611-007 → 007)."""
    return ticket.number.rsplit("-", 1)[-1]


async def _names(session: AsyncSession, *ids: int | None) -> dict[int, str]:
    found: dict[int, str] = {}
    for person_id in {i for i in ids if i is not None}:
        person = await people.get_person(session, person_id)
        if person is not None:
            found[person_id] = person.name
    return found


async def holder_name(session: AsyncSession, ticket: Ticket) -> str | None:
    """The name of whoever holds the ticket."""
    if ticket.assignee_id is None:
        return None
    return (await _names(session, ticket.assignee_id)).get(ticket.assignee_id)


def limits_text(services: Services, ticket: Ticket, _: Translate) -> str:
    """'take within 11-24 09:00, finish by 11-26 09:00' (or by appointment)."""
    if ticket.accept_by is None and ticket.finish_by is None:
        return _("by appointment (the worker will agree a time with you)")
    if ticket.accept_by is not None and ticket.finish_by is not None:
        return _("taken by {accept}, finished by {finish}").format(
            accept=local_time(services, ticket.accept_by),
            finish=local_time(services, ticket.finish_by),
        )
    if ticket.accept_by is not None:
        return _("taken by {time}").format(time=local_time(services, ticket.accept_by))
    assert ticket.finish_by is not None
    return _("finished by {time}").format(time=local_time(services, ticket.finish_by))


def status_line(
    ticket: Ticket, holder: str | None, now: datetime, _: Translate, *, html: bool = True
) -> str:
    """'已接单（李师傅）⚠️ 已超时'."""
    label = status_label(ticket.status, _)
    text = f"<b>{label}</b>" if html else label
    if holder and ticket.status in (*store.HELD, TicketStatus.AWAITING_ACCEPTANCE):
        text += _(" ({name})").format(name=esc(holder) if html else holder)
    if store.is_overdue(ticket, now):
        text += " ⚠️ " + _("Overdue")
    return text


def card_text(
    services: Services,
    ticket: Ticket,
    *,
    holder: str | None,
    photo_count: int,
    _: Translate,
) -> str:
    """The ticket card (HTML, well under 1024 characters for short reports)."""
    profile = services.profile
    now = services.now()
    lines = [
        f"🔧 <b>{esc(ticket.number)}</b> · {esc(category_name(profile, ticket.category_key))}"
        f" · {esc(urgency_name(profile, ticket.urgency_key))}",
        f"📍 {esc(ticket.place)}",
        f"📝 {esc(ticket.description[:400])}",
        "👤 "
        + _("Reported by {name} at {time}").format(
            name=esc(ticket.reporter_name), time=local_time(services, ticket.created_at)
        ),
        "⏱ " + esc(limits_text(services, ticket, _)),
    ]
    if photo_count:
        lines.append("📷 " + _("{count} photo(s) below").format(count=photo_count))
    lines.append(_("Status: {status}").format(status=status_line(ticket, holder, now, _)))
    reason = ticket.status_reason
    if ticket.status == TicketStatus.DEFERRED and ticket.deferred_until is not None:
        lines.append(
            _("Deferred to {time}: {reason}").format(
                time=local_time(services, ticket.deferred_until), reason=esc(reason or "")
            )
        )
    elif ticket.status in (TicketStatus.REJECTED, TicketStatus.REWORK) and reason:
        lines.append(_("Reason: {reason}").format(reason=esc(reason)))
    if ticket.result and ticket.status in (
        TicketStatus.AWAITING_ACCEPTANCE,
        TicketStatus.CLOSED,
    ):
        result = _(RESULT_LABELS.get(ticket.result, ticket.result))
        note = f" · {esc(ticket.result_note[:200])}" if ticket.result_note else ""
        lines.append(_("Result: {result}").format(result=result) + note)
    if ticket.status == TicketStatus.CLOSED and ticket.rating:
        rating = stars(ticket.rating)
        if ticket.auto_closed:
            rating += " " + _("(accepted automatically)")
        if ticket.rating_comment:
            rating += f" “{esc(ticket.rating_comment[:100])}”"
        lines.append(_("Rating: {stars}").format(stars=rating))
    return "\n".join(lines)


def card_markup(ticket: Ticket, _: Translate) -> InlineKeyboardMarkup | None:
    """The handling buttons a card shows for the ticket's status."""
    tid = ticket.id
    if ticket.status == TicketStatus.OPEN:
        return keyboard(
            [
                [
                    button(_("Take"), f"{PREFIX}:take:{tid}"),
                    button(_("Assign"), f"{PREFIX}:asg:{tid}"),
                    button(_("Return"), f"{PREFIX}:rej:{tid}"),
                ]
            ]
        )
    if ticket.status in store.HELD:
        first = []
        if ticket.status != TicketStatus.IN_PROGRESS:
            first.append(button(_("Start repair"), f"{PREFIX}:start:{tid}"))
        first.append(button(_("Repair done"), f"{PREFIX}:done:{tid}"))
        return keyboard(
            [
                first,
                [
                    button(_("Ask to defer"), f"{PREFIX}:defer:{tid}"),
                    button(_("Hand over"), f"{PREFIX}:xfer:{tid}"),
                ],
            ]
        )
    return None


async def render_card(
    session: AsyncSession, services: Services, ticket: Ticket, _: Translate
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Card text and buttons of a ticket as it is now."""
    assert ticket.id is not None
    photos = await store.photos_of(session, ticket.id)
    holder = await holder_name(session, ticket)
    text = card_text(services, ticket, holder=holder, photo_count=len(photos), _=_)
    return text, card_markup(ticket, _)


def card_key(ticket_id: int) -> str:
    """Outbox key of a ticket's card in the repair group."""
    return f"ticket:{ticket_id}:card"


CARD_KEY = re.compile(r"^ticket:(\d+):card$")


async def _card_delivered(session: AsyncSession, notification: Any, message_id: int) -> None:
    """Outbox hook: the card reached the repair group; remember where, whoever delivered it."""
    match = CARD_KEY.match(notification.key)
    if match is not None:
        await store.link_card(
            session, int(match.group(1)), chat_id=notification.chat_id, message_id=message_id
        )


async def refresh_card(bot: Bot, services: Services, ticket_id: int) -> None:
    """Edit the ticket's card in the repair group to show its current status and holder."""
    _ = group_translator(services)
    async with services.database.transaction() as session:
        ticket = await store.get_ticket(session, ticket_id)
        if ticket is None:
            return
        if ticket.group_message_id is None:
            # Delivered by an outbox pass before the delivery hook existed: link it now.
            sent = await outbox_store.sent_to(session, card_key(ticket_id))
            if sent is None:
                return  # not delivered yet: the outbox posts the current card later
            await store.link_card(session, ticket_id, chat_id=sent[0], message_id=sent[1])
            ticket.group_chat_id, ticket.group_message_id = sent
        text, markup = await render_card(session, services, ticket, _)
    assert ticket.group_chat_id is not None and ticket.group_message_id is not None
    try:
        await bot.edit_message_text(
            chat_id=ticket.group_chat_id,
            message_id=ticket.group_message_id,
            text=text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not edit the card of ticket %s: %s", ticket_id, exc)
    except TelegramError as exc:
        log.warning("could not edit the card of ticket %s: %s", ticket_id, exc)


def translator_for(person: Person | None, services: Services) -> Translate:
    return translator(language_of(person, services.settings.language.value))


async def tell_reporter(
    session: AsyncSession,
    services: Services,
    ticket: Ticket,
    event: TicketEvent,
    message: Callable[[Translate], str],
    *,
    reporter_markup: Callable[[Translate], InlineKeyboardMarkup] | None = None,
    photo_file_id: str | None = None,
) -> None:
    """Queue an update for the reporter and every follower (same text, their language)."""
    reporter = await people.get_person(session, ticket.reporter_id) if ticket.reporter_id else None
    t_ = translator_for(reporter, services)
    await outbox.notify(
        session,
        services,
        key=f"ticket:{ticket.id}:{event.id}:reporter",
        chat_id=ticket.reporter_telegram_id,
        text=message(t_),
        markup=reporter_markup(t_) if reporter_markup is not None else None,
        photo_file_id=photo_file_id,
    )
    assert ticket.id is not None
    for follower in await store.followers_of(session, ticket.id):
        person = (
            await people.get_person(session, follower.person_id) if follower.person_id else None
        )
        t_ = translator_for(person, services)
        await outbox.notify(
            session,
            services,
            key=f"ticket:{ticket.id}:{event.id}:f{follower.telegram_id}",
            chat_id=follower.telegram_id,
            text=message(t_),
            photo_file_id=photo_file_id,
        )


async def tell_person(
    session: AsyncSession,
    services: Services,
    person_id: int | None,
    key: str,
    message: Callable[[Translate], str],
    *,
    markup: Callable[[Translate], InlineKeyboardMarkup | None] | None = None,
) -> None:
    """Queue a message for a registered person (the holder, an assignee, a director)."""
    if person_id is None:
        return
    person = await people.get_person(session, person_id)
    if person is None or not person.active:
        return
    t_ = translator_for(person, services)
    await outbox.notify(
        session,
        services,
        key=key,
        chat_id=person.telegram_id,
        text=message(t_),
        markup=markup(t_) if markup is not None else None,
    )


def ticket_head(ticket: Ticket, services: Services) -> str:
    """'BX-2611-007 (实验楼3楼女厕 · 水暖)' for notifications."""
    category = category_name(services.profile, ticket.category_key)
    return f"<b>{esc(ticket.number)}</b> ({esc(ticket.place)} · {esc(category)})"


# --- publishing ----------------------------------------------------------------------------------


async def queue_publication(session: AsyncSession, services: Services, ticket: Ticket) -> None:
    """Queue the new ticket's card and the reporter's confirmation in the caller's transaction.

    Called in the transaction that files the ticket, so a ticket never exists without its card
    on the way (a crash right after the commit still posts it, once, at the next start).
    Idempotent: the outbox keys make a second call queue nothing.
    """
    assert ticket.id is not None
    ticket_id = ticket.id
    _ = group_translator(services)
    text, markup = await render_card(session, services, ticket, _)
    group = await groups.group_for(session, GroupPurpose.REPAIR)
    if group is not None:
        await outbox.notify(
            session,
            services,
            key=card_key(ticket_id),
            chat_id=group.chat_id,
            text=text,
            markup=markup,
        )
    else:
        for director in await people.active_directors(session):
            t_ = translator_for(director, services)
            d_text, d_markup = await render_card(session, services, ticket, t_)
            await outbox.notify(
                session,
                services,
                key=f"ticket:{ticket_id}:card:d{director.id}",
                chat_id=director.telegram_id,
                text=t_("No repair group is bound, so the new job comes to you:") + "\n\n" + d_text,
                markup=d_markup,
            )
    if ticket.source == "report":
        reporter = (
            await people.get_person(session, ticket.reporter_id) if ticket.reporter_id else None
        )
        t_ = translator_for(reporter, services)
        await outbox.notify(
            session,
            services,
            key=confirmation_key(ticket_id),
            chat_id=ticket.reporter_telegram_id,
            send_after_commit=True,  # publish_ticket answers the reporter at once
            text=t_(
                "Your repair request is filed: {number}\n{place} · {category} · {urgency}\n"
                "Time limit: {limits}.\nYou will be told of every change; /mytickets shows "
                "where it stands."
            ).format(
                number=f"<b>{esc(ticket.number)}</b>",
                place=esc(ticket.place),
                category=esc(category_name(services.profile, ticket.category_key)),
                urgency=esc(urgency_name(services.profile, ticket.urgency_key)),
                limits=esc(limits_text(services, ticket, t_)),
            ),
        )


def confirmation_key(ticket_id: int) -> str:
    """The outbox key of the reporter's confirmation (number and time limits)."""
    return f"ticket:{ticket_id}:confirm"


async def publish_ticket(bot: Bot, services: Services, ticket: Ticket) -> None:
    """After the filing transaction (which ran `queue_publication`) committed: answer the
    reporter now with the confirmation; the card and its photos follow in the background.

    Without a bound repair group the directors get the card instead.
    """
    assert ticket.id is not None
    if ticket.source == "report":
        await outbox.send_now(bot, services, confirmation_key(ticket.id))
    outbox.in_background(_deliver_card(bot, services, ticket.id), name=f"ticket {ticket.id} card")


async def _deliver_card(bot: Bot, services: Services, ticket_id: int) -> None:
    """Deliver the queued card (paced with other notifications), then its photos under it."""
    await outbox.deliver(bot, services)
    async with services.database.reading() as session:
        ticket = await store.get_ticket(session, ticket_id)
        photos = await store.photos_of(session, ticket_id)
    if ticket is None or ticket.group_chat_id is None or ticket.group_message_id is None:
        return  # no repair group, or the card is not delivered yet (the outbox retries it)
    if photos:
        await _send_photos(
            bot, ticket.group_chat_id, ticket.group_message_id, photos, ticket.number
        )


async def _send_photos(
    bot: Bot, chat_id: int, reply_to: int, photos: Sequence[str], number: str
) -> None:
    try:
        for start in range(0, len(photos), 10):
            chunk = list(photos[start : start + 10])
            if len(chunk) == 1:
                await bot.send_photo(
                    chat_id, chunk[0], caption=number, reply_to_message_id=reply_to
                )
            else:
                media = [
                    InputMediaPhoto(file_id, caption=number if i == 0 else None)
                    for i, file_id in enumerate(chunk)
                ]
                await bot.send_media_group(chat_id, media, reply_to_message_id=reply_to)
    except TelegramError as exc:
        log.warning("could not post the photos of %s: %s", number, exc)


# --- who may report ------------------------------------------------------------------------------

_member_cache: dict[int, tuple[bool, datetime]] = {}
MEMBER_CACHE_TTL = timedelta(minutes=10)
PRESENT = ("creator", "administrator", "member", "restricted")


async def may_report(update: Update, context: HouqinContext) -> bool:
    """Registered people, and members of the bound teachers' group (getChatMember, cached)."""
    if context.person is not None:
        return True
    user = update.effective_user
    if user is None:
        return False
    services = context.services
    now = services.now()
    cached = _member_cache.get(user.id)
    if cached is not None and cached[1] > now:
        allowed = cached[0]
    else:
        async with services.database.transaction() as session:
            group = await groups.group_for(session, GroupPurpose.TEACHERS)
        allowed = False
        if group is not None:
            try:
                member = await context.bot.get_chat_member(group.chat_id, user.id)
                allowed = member.status in PRESENT
            except TelegramError as exc:
                log.info("could not check %s in the teachers' group: %s", user.id, exc)
        _member_cache[user.id] = (allowed, now + MEMBER_CACHE_TTL)
    if not allowed:
        await reply(
            update,
            context,
            context._(
                "Only registered staff and members of the teachers' group can report faults. "
                "Ask the logistics office for an invite link, or send /start in a private chat "
                "with me to ask to join."
            ),
        )
    return allowed


def forget_member_cache() -> None:
    """Drop cached teachers' group memberships (tests)."""
    _member_cache.clear()


# --- answering a button --------------------------------------------------------------------------


def _parse(data: str) -> tuple[str, int, list[str]]:
    parts = data.split(":")
    return parts[1], int(parts[2]), parts[3:]


async def _moved_on(update: Update, context: HouqinContext, ticket: Ticket) -> None:
    """The ticket is not where the button expected it: say where it is, change nothing."""
    async with context.services.database.transaction() as session:
        holder = await holder_name(session, ticket)
    status = status_line(ticket, holder, context.services.now(), context._, html=False)
    await _alert(
        update,
        context,
        context._("Nothing changed: {number} is now {status}.").format(
            number=ticket.number, status=status
        ),
    )


async def _alert(update: Update, context: HouqinContext, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    else:
        await reply(update, context, text)


async def _refused(
    update: Update, context: HouqinContext, problem: store.NotAllowed, ticket: Ticket | None
) -> None:
    _ = context._
    if problem.reason == "not_yours" and ticket is not None:
        async with context.services.database.transaction() as session:
            holder = await holder_name(session, ticket)
        text = _("{name} holds this job; only they (or the director) can do that.").format(
            name=holder or "?"
        )
    elif problem.reason == "not_reporter":
        text = _("Only the person who reported it can do that.")
    elif problem.reason == "too_soon" and problem.until is not None:
        text = _("You already nudged it. You can nudge again after {time}.").format(
            time=local_time(context.services, problem.until)
        )
    else:
        text = _("Only repair staff can do that.")
    await _alert(update, context, text)


async def _load(context: HouqinContext, ticket_id: int) -> Ticket | None:
    async with context.services.database.transaction() as session:
        return await store.get_ticket(session, ticket_id)


async def _try_transition(
    update: Update,
    context: HouqinContext,
    ticket_id: int,
    transition: Callable[[AsyncSession], Awaitable[store.Change]],
) -> store.Change | None:
    """Run a button's transition (and the notifications it queues) in one committed unit of work.

    A refusal or a ticket that has moved on is answered here, after the commit, and gives None;
    otherwise the change is returned for the handler to confirm.
    """
    try:
        async with context.services.database.transaction() as session:
            change = await transition(session)
    except store.NotAllowed as problem:
        await _refused(update, context, problem, await _load(context, ticket_id))
        return None
    if not change.changed:
        await _moved_on(update, context, change.ticket)
        return None
    return change


async def _done(update: Update, context: HouqinContext, ticket_id: int, text: str) -> None:
    """After a committed change: deliver the outbox, refresh the card, answer the presser."""
    services = context.services
    outbox.deliver_soon(context.bot, services)
    await refresh_card(context.bot, services, ticket_id)
    query = update.callback_query
    if query is not None:
        await query.answer(text[:200])
        message = query.message
        async with services.database.transaction() as session:
            ticket = await store.get_ticket(session, ticket_id)
        if (
            message is not None
            and ticket is not None
            and message.chat.id == update.effective_user.id  # type: ignore[union-attr]
            and message.message_id != ticket.group_message_id
            and getattr(message, "text", None)
        ):
            # A private copy of the card (an assignee's message): show it as it is now.
            async with services.database.transaction() as session:
                card, markup = await render_card(session, services, ticket, context._)
            try:
                await query.edit_message_text(card, parse_mode=ParseMode.HTML, reply_markup=markup)
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    raise
    else:
        await reply(update, context, text, parse_mode=ParseMode.HTML)


# --- the handling buttons ------------------------------------------------------------------------


async def take_button(update: Update, context: HouqinContext) -> None:
    """接单."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _action, ticket_id, _rest = _parse(query.data)
    services = context.services
    person = context.person
    if person is None or not store.can_handle(person, services.profile):
        await _alert(update, context, context._("Only repair staff can take jobs."))
        return

    async def take(session: AsyncSession) -> store.Change:
        change = await store.take(
            session, ticket_id, worker=person, profile=services.profile, now=services.now()
        )
        if change.event is not None:
            await tell_reporter(
                session,
                services,
                change.ticket,
                change.event,
                lambda t_: t_("{ticket} was taken by {name}.").format(
                    ticket=ticket_head(change.ticket, services), name=esc(person.name)
                ),
            )
        return change

    change = await _try_transition(update, context, ticket_id, take)
    if change is None:
        return
    await _done(
        update,
        context,
        ticket_id,
        context._("You took {number}.").format(number=change.ticket.number),
    )


async def assign_button(update: Update, context: HouqinContext) -> None:
    """指派 / a director's 转单: the director picks a person in the private chat."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _action, ticket_id, _rest = _parse(query.data)
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    ticket = await _load(context, ticket_id)
    if ticket is None or ticket.status not in store.UNFINISHED:
        if ticket is not None:
            await _moved_on(update, context, ticket)
        return
    await _send_picker(update, context, ticket)


async def _candidates(context: HouqinContext) -> list[Person]:
    async with context.services.database.transaction() as session:
        everyone = await people.list_people(session)
    return [p for p in everyone if store.can_handle(p, context.services.profile)]


async def _send_picker(update: Update, context: HouqinContext, ticket: Ticket) -> None:
    _ = context._
    user = update.effective_user
    assert user is not None and update.callback_query is not None
    rows = [
        [button(person.name, f"{PREFIX}:to:{ticket.id}:{person.id}")]
        for person in await _candidates(context)
        if person.id != ticket.assignee_id
    ]
    if not rows:
        await _alert(update, context, _("Nobody can take repair jobs yet."))
        return
    text = _("Who should do {number} ({place})?").format(
        number=esc(ticket.number), place=esc(ticket.place)
    )
    try:
        await context.bot.send_message(
            user.id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard(rows)
        )
    except Forbidden:
        await _alert(update, context, _("Send /start to me in a private chat first."))
        return
    if private_chat(update):
        await update.callback_query.answer()
    else:
        await update.callback_query.answer(_("Choose the person in our private chat."))


async def assign_to_button(update: Update, context: HouqinContext) -> None:
    """A director picked the person for a job."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _action, ticket_id, rest = _parse(query.data)
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None:
        return
    services = context.services
    _ = context._
    async with services.database.transaction() as session:
        assignee = await people.get_person(session, int(rest[0]))
        if assignee is None or not store.can_handle(assignee, services.profile):
            await _alert(update, context, _("That person can no longer take repair jobs."))
            return
        change = await store.assign(
            session,
            ticket_id,
            director=director,
            assignee=assignee,
            profile=services.profile,
            now=services.now(),
        )
        event = change.event
        if event is not None:
            ticket = change.ticket
            await tell_person(
                session,
                services,
                assignee.id,
                f"ticket:{ticket_id}:{event.id}:assignee",
                lambda t_: (
                    t_("{director} gave you a repair job:").format(director=esc(director.name))
                    + "\n\n"
                    + card_text(services, ticket, holder=assignee.name, photo_count=0, _=t_)
                ),
                markup=lambda t_: card_markup(ticket, t_),
            )
            await tell_reporter(
                session,
                services,
                ticket,
                event,
                lambda t_: t_("{ticket} was given to {name}.").format(
                    ticket=ticket_head(ticket, services), name=esc(assignee.name)
                ),
            )
    if not change.changed:
        await _moved_on(update, context, change.ticket)
        return
    outbox.deliver_soon(context.bot, services)
    await refresh_card(context.bot, services, ticket_id)
    await query.answer()
    await query.edit_message_text(
        _("{number} is now with {name}.").format(
            number=esc(change.ticket.number), name=esc(assignee.name)
        ),
        parse_mode=ParseMode.HTML,
    )


async def start_button(update: Update, context: HouqinContext) -> None:
    """开始维修, by the holder."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _action, ticket_id, _rest = _parse(query.data)
    services = context.services
    person = context.person
    if person is None or not store.can_handle(person, services.profile):
        await _alert(update, context, context._("Only repair staff can do that."))
        return

    async def start(session: AsyncSession) -> store.Change:
        change = await store.start(session, ticket_id, worker=person, now=services.now())
        if change.event is not None:
            await tell_reporter(
                session,
                services,
                change.ticket,
                change.event,
                lambda t_: t_("{name} started repairing {ticket}.").format(
                    ticket=ticket_head(change.ticket, services), name=esc(person.name)
                ),
            )
        return change

    if await _try_transition(update, context, ticket_id, start) is None:
        return
    await _done(update, context, ticket_id, context._("Repair started."))


async def nudge_button(update: Update, context: HouqinContext) -> None:
    """催办 from /mytickets: the holder (or the repair group) is reminded."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    _action, ticket_id, _rest = _parse(query.data)
    services = context.services

    async def nudge(session: AsyncSession) -> store.Change:
        change = await store.nudge(
            session,
            ticket_id,
            reporter_telegram_id=user.id,
            reporter=context.person,
            interval=_nudge_interval(services),
            now=services.now(),
        )
        event = change.event
        if event is not None:
            ticket = change.ticket

            def message(t_: Translate) -> str:
                return t_("{reporter} is asking about {ticket}; please deal with it.").format(
                    reporter=esc(ticket.reporter_name), ticket=ticket_head(ticket, services)
                )

            if ticket.assignee_id is not None:
                await tell_person(
                    session,
                    services,
                    ticket.assignee_id,
                    f"ticket:{ticket_id}:{event.id}:nudge",
                    message,
                )
            else:
                group = await groups.group_for(session, GroupPurpose.REPAIR)
                if group is not None:
                    await outbox.notify(
                        session,
                        services,
                        key=f"ticket:{ticket_id}:{event.id}:nudge",
                        chat_id=group.chat_id,
                        text=message(group_translator(services)),
                    )
        return change

    if await _try_transition(update, context, ticket_id, nudge) is None:
        return
    outbox.deliver_soon(context.bot, services)
    await query.answer(context._("Nudged. The repair team has been reminded."), show_alert=True)


def _nudge_interval(services: Services) -> timedelta:
    interval = services.profile.repair.nudge_interval
    if interval.timedelta is not None:
        return interval.timedelta
    return timedelta(days=interval.working_days or 1)


async def cancel_button(update: Update, context: HouqinContext) -> None:
    """撤销 by the reporter, before anyone took it."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    _action, ticket_id, _rest = _parse(query.data)
    services = context.services
    change = await _try_transition(
        update,
        context,
        ticket_id,
        lambda session: store.cancel(
            session,
            ticket_id,
            reporter_telegram_id=user.id,
            reporter=context.person,
            now=services.now(),
        ),
    )
    if change is None:
        return
    await refresh_card(context.bot, services, ticket_id)
    await query.answer(context._("Withdrawn."))
    await _show_my_tickets(update, context, edit=True)


async def accept_button(update: Update, context: HouqinContext) -> None:
    """确认验收: the reporter is shown 1-5 stars."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    _action, ticket_id, _rest = _parse(query.data)
    ticket = await _load(context, ticket_id)
    if ticket is None:
        await query.answer()
        return
    if ticket.reporter_telegram_id != user.id:
        await _refused(update, context, store.NotAllowed("not_reporter"), ticket)
        return
    if ticket.status != TicketStatus.AWAITING_ACCEPTANCE:
        await _moved_on(update, context, ticket)
        return
    _ = context._
    rows = [[button(stars(n), f"{PREFIX}:rate:{ticket_id}:{n}")] for n in (5, 4, 3, 2, 1)]
    await query.answer()
    await context.bot.send_message(
        user.id,
        _("How satisfied are you with the repair of {number}?").format(number=esc(ticket.number)),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(rows),
    )


async def join_button(update: Update, context: HouqinContext) -> None:
    """同一问题 under a duplicate notice in a group: follow the existing ticket."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    _action, ticket_id, _rest = _parse(query.data)
    if not await may_report(update, context):
        return
    services = context.services
    async with services.database.transaction() as session:
        joined = await store.follow(
            session,
            ticket_id=ticket_id,
            telegram_id=user.id,
            name=context.person.name if context.person else user.full_name,
            person=context.person,
            now=services.now(),
        )
        ticket = await store.get_ticket(session, ticket_id)
    assert ticket is not None
    _ = context._
    if joined:
        await query.answer(
            _("You follow {number} now and will get its updates.").format(number=ticket.number),
            show_alert=True,
        )
    else:
        await query.answer(_("You already follow {number}.").format(number=ticket.number))


# --- multi-step handling inputs (in the acting person's private chat) ----------------------------


def _act(context: HouqinContext) -> dict[str, Any]:
    assert context.user_data is not None
    act = context.user_data.get("tk_act")
    return act if isinstance(act, dict) else {}


def _set_act(context: HouqinContext, **act: Any) -> None:
    assert context.user_data is not None
    context.user_data["tk_act"] = act


def _end_act(context: HouqinContext) -> None:
    if context.user_data is not None:
        context.user_data.pop("tk_act", None)


async def _prompt_private(update: Update, context: HouqinContext, text: str, **kwargs: Any) -> bool:
    """Ask the next step in the presser's private chat; False if they never started the bot."""
    user = update.effective_user
    assert user is not None
    query = update.callback_query
    try:
        await context.bot.send_message(user.id, text, parse_mode=ParseMode.HTML, **kwargs)
    except Forbidden:
        await _alert(update, context, context._("Send /start to me in a private chat first."))
        return False
    if query is not None:
        if private_chat(update):
            await query.answer()
        else:
            await query.answer(context._("Continue in our private chat."))
    return True


async def _after_act(update: Update, context: HouqinContext) -> object:
    """End the handling input; resume a report form left half-way, if any."""
    _end_act(context)
    from handlers import ticket_form

    return await ticket_form.resume_if_pending(update, context) or ConversationHandler.END


async def act_entry(update: Update, context: HouqinContext) -> object:
    """A handling button that needs more input: done, defer, xfer (worker), rej, rw, rate."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and query.data is not None and user is not None
    action, ticket_id, rest = _parse(query.data)
    services = context.services
    person = context.person
    _ = context._
    ticket = await _load(context, ticket_id)
    if ticket is None:
        await query.answer()
        return None
    if action in ("done", "defer", "xfer", "rej"):
        if person is None or not store.can_handle(person, services.profile):
            await _alert(update, context, _("Only repair staff can do that."))
            return None
        if action == "xfer" and person.role == Role.DIRECTOR:
            if ticket.status not in store.UNFINISHED:
                await _moved_on(update, context, ticket)
            else:
                await _send_picker(update, context, ticket)
            return None
        allowed = store.UNFINISHED if action == "rej" else store.HELD
        if ticket.status not in allowed:
            await _moved_on(update, context, ticket)
            return None
        is_holder = ticket.assignee_id == person.id
        if ticket.status in store.HELD and not is_holder and person.role != Role.DIRECTOR:
            await _refused(update, context, store.NotAllowed("not_yours"), ticket)
            return None
        if action in ("done", "defer") and not is_holder:
            await _refused(update, context, store.NotAllowed("not_yours"), ticket)
            return None
    elif action in ("rw", "rate"):
        if ticket.reporter_telegram_id != user.id:
            await _refused(update, context, store.NotAllowed("not_reporter"), ticket)
            return None
        if ticket.status != TicketStatus.AWAITING_ACCEPTANCE:
            await _moved_on(update, context, ticket)
            return None
    head = ticket_head(ticket, services)
    if action == "done":
        rows = [
            [button(_(label), f"{PREFIX}:res:{ticket_id}:{key}")]
            for key, label in RESULT_LABELS.items()
        ]
        if not await _prompt_private(
            update,
            context,
            _("Repair done on {ticket}. What was the result?").format(ticket=head),
            reply_markup=keyboard(rows),
        ):
            return None
        _set_act(context, action="done", id=ticket_id, step="result")
        return ACT
    if action == "defer":
        text = _("Why must {ticket} wait? Send the reason in one message (the reporter sees it).")
        step = "reason"
    elif action == "xfer":
        text = _("Why are you handing {ticket} back to the repair group? Send the reason.")
        step = "reason"
    elif action == "rej":
        text = _("Why is {ticket} returned? Send the reason (the reporter sees it).")
        step = "reason"
    elif action == "rw":
        text = _("What is still wrong with {ticket}? Send it in one message.")
        step = "reason"
    else:  # rate: the acceptance is committed at once, the comment is optional
        return await _rate(update, context, ticket, int(rest[0]))
    if not await _prompt_private(
        update, context, text.format(ticket=head) + "\n" + _("/cancel to stop.")
    ):
        return None
    _set_act(context, action=action, id=ticket_id, step=step)
    return ACT


async def _rate(update: Update, context: HouqinContext, ticket: Ticket, rating: int) -> object:
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None and ticket.id is not None
    services = context.services
    _ = context._
    if not 1 <= rating <= 5:
        await query.answer()
        return None
    ticket_id = ticket.id

    async def accept(session: AsyncSession) -> store.Change:
        change = await store.accept(
            session,
            ticket_id,
            reporter_telegram_id=user.id,
            reporter=context.person,
            rating=rating,
            now=services.now(),
        )
        event = change.event
        if event is not None:
            done = change.ticket
            await tell_person(
                session,
                services,
                done.assignee_id,
                f"ticket:{done.id}:{event.id}:assignee",
                lambda t_: t_("{ticket} was accepted by the reporter. Rating: {stars}").format(
                    ticket=ticket_head(done, services), stars=stars(rating)
                ),
            )
        return change

    if await _try_transition(update, context, ticket_id, accept) is None:
        return None
    outbox.deliver_soon(context.bot, services)
    await refresh_card(context.bot, services, ticket.id)
    await query.answer(_("Thank you!"))
    await query.edit_message_text(
        _(
            "{number} is accepted. Your rating: {stars}\nAdd a comment? Send it now, or skip."
        ).format(number=esc(ticket.number), stars=stars(rating)),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard([[button(_("Skip"), f"{PREFIX}:skip:{ticket.id}")]]),
    )
    _set_act(context, action="comment", id=ticket.id, step="comment")
    return ACT


async def act_button(update: Update, context: HouqinContext) -> object:
    """Buttons inside a handling input: the result, a date, or skip."""
    query = update.callback_query
    assert query is not None and query.data is not None
    action, ticket_id, rest = _parse(query.data)
    act = _act(context)
    _ = context._
    if act.get("id") != ticket_id:
        await query.answer(_("This button has expired."), show_alert=True)
        return None
    if action == "res" and act.get("step") == "result" and rest and rest[0] in RESULT_LABELS:
        _set_act(context, **{**act, "result": rest[0], "step": "note"})
        await query.answer()
        await query.edit_message_text(
            _(
                "Result: {result}. Send a photo of the finished work (a caption is kept as the "
                "note), or a short note, or skip."
            ).format(result=_(RESULT_LABELS[rest[0]])),
            reply_markup=keyboard([[button(_("Skip"), f"{PREFIX}:skip:{ticket_id}")]]),
        )
        return ACT
    if action == "dd" and act.get("step") == "date" and rest:
        try:
            day = datetime.strptime(rest[0], "%Y%m%d").date()
        except ValueError:
            await query.answer()
            return None
        await query.answer()
        return await _finish_defer(update, context, act, day)
    if action == "skip" and act.get("step") == "note":
        await query.answer()
        await query.edit_message_reply_markup(None)
        return await _finish_done(update, context, act, note=None, photo=None)
    if action == "skip" and act.get("step") == "comment":
        await query.answer(_("Thank you!"))
        await query.edit_message_reply_markup(None)
        return await _after_act(update, context)
    await query.answer(_("This button has expired."), show_alert=True)
    return None


async def act_message(update: Update, context: HouqinContext) -> object:
    """Text (or a photo) sent during a handling input, in the private chat."""
    message = update.effective_message
    assert message is not None
    act = _act(context)
    _ = context._
    step = act.get("step")
    if not act:
        return await _after_act(update, context)
    if step == "note":
        if message.photo:
            caption = (message.caption or "").strip()[:MAX_COMMENT] or None
            return await _finish_done(
                update, context, act, note=caption, photo=message.photo[-1].file_id
            )
        if message.text and len(message.text) <= MAX_COMMENT:
            return await _finish_done(update, context, act, note=message.text.strip(), photo=None)
        await reply(
            update,
            context,
            _("Send one photo, or a note of at most {limit} characters, or press Skip.").format(
                limit=MAX_COMMENT
            ),
        )
        return None
    if step == "result":
        await reply(update, context, _("Please choose the result with the buttons above."))
        return None
    text = (message.text or "").strip()
    if not text:
        await reply(update, context, _("Please send text. /cancel to stop."))
        return None
    limit = MAX_COMMENT if step == "comment" else MAX_REASON
    if await refuse_if_too_long(update, context, text, limit):
        return None
    if step == "date":
        day = parse_day(text, context.services.local_now().date())
        if day is None:
            await reply(
                update,
                context,
                _("Send a date like 11-30 or 2026-11-30, or press one of the buttons."),
            )
            return None
        return await _finish_defer(update, context, act, day)
    action = act.get("action")
    if action == "defer":
        _set_act(context, **{**act, "reason": text, "step": "date"})
        await reply(
            update,
            context,
            _("Until when? Pick a day or send a date like 11-30."),
            reply_markup=_date_buttons(context, int(act["id"])),
        )
        return ACT
    if action == "comment":
        async with context.services.database.transaction() as session:
            await store.add_rating_comment(
                session,
                int(act["id"]),
                reporter_telegram_id=update.effective_user.id,  # type: ignore[union-attr]
                comment=text,
            )
        await reply(update, context, _("Thank you, your comment is saved."))
        await refresh_card(context.bot, context.services, int(act["id"]))
        return await _after_act(update, context)
    if action in ("xfer", "rej", "rw"):
        return await _finish_with_reason(update, context, act, text)
    return await _after_act(update, context)


def parse_day(text: str, today: date) -> date | None:
    """'2026-11-30', '11-30', '11/30', '11月30日' → a day after today within 90 days."""
    match = re.fullmatch(
        r"\s*(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?\s*", text
    )
    if not match:
        return None
    year = int(match.group(1)) if match.group(1) else today.year
    try:
        day = date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    if not match.group(1) and day <= today:
        try:
            day = day.replace(year=today.year + 1)
        except ValueError:
            return None
    if day <= today or day > today + timedelta(days=MAX_DEFER_DAYS):
        return None
    return day


def _date_buttons(context: HouqinContext, ticket_id: int) -> InlineKeyboardMarkup:
    services = context.services
    calendar = services.profile.calendar
    day = services.local_now().date()
    days: list[date] = []
    while len(days) < 4:
        day = calendar.next_working_day(day, include=False)
        days.append(day)
    weekdays = [
        N_("Mon"),
        N_("Tue"),
        N_("Wed"),
        N_("Thu"),
        N_("Fri"),
        N_("Sat"),
        N_("Sun"),
    ]
    row = [
        button(
            f"{d:%m-%d} {context._(weekdays[d.weekday()])}",
            f"{PREFIX}:dd:{ticket_id}:{d:%Y%m%d}",
        )
        for d in days
    ]
    return keyboard([row[:2], row[2:]])


async def _finish_defer(
    update: Update, context: HouqinContext, act: dict[str, Any], day: date
) -> object:
    services = context.services
    person = context.person
    _ = context._
    ticket_id = int(act["id"])
    reason = str(act.get("reason", ""))
    tz = services.profile.tz
    until = datetime.combine(day, services.profile.repair.working_hours.end, tzinfo=tz)
    if until <= services.now():
        until = datetime.combine(day, time(23, 59), tzinfo=tz)
    if person is None:
        return await _after_act(update, context)
    try:
        async with services.database.transaction() as session:
            change = await store.defer(
                session, ticket_id, worker=person, reason=reason, until=until, now=services.now()
            )
            if change.event is not None:
                await tell_reporter(
                    session,
                    services,
                    change.ticket,
                    change.event,
                    lambda t_: t_(
                        "{ticket} needs more time: it will be finished by {time}.\nReason: {reason}"
                    ).format(
                        ticket=ticket_head(change.ticket, services),
                        time=local_time(services, until),
                        reason=esc(reason),
                    ),
                )
    except (store.NotAllowed, ValueError):
        await reply(update, context, _("Nothing changed: the job is no longer yours to defer."))
        return await _after_act(update, context)
    if change.changed:
        outbox.deliver_soon(context.bot, services)
        await refresh_card(context.bot, services, ticket_id)
        await _say(
            update,
            context,
            _("Deferred to {time}; the reporter has been told why.").format(
                time=local_time(services, until)
            ),
        )
    else:
        await _say_moved_on(update, context, change.ticket)
    return await _after_act(update, context)


async def _say(update: Update, context: HouqinContext, text: str) -> None:
    user = update.effective_user
    assert user is not None
    await context.bot.send_message(user.id, text, parse_mode=ParseMode.HTML)


async def _say_moved_on(update: Update, context: HouqinContext, ticket: Ticket) -> None:
    async with context.services.database.transaction() as session:
        holder = await holder_name(session, ticket)
    status = status_line(ticket, holder, context.services.now(), context._)
    await _say(
        update,
        context,
        context._("Nothing changed: {number} is now {status}.").format(
            number=esc(ticket.number), status=status
        ),
    )


async def _finish_done(
    update: Update,
    context: HouqinContext,
    act: dict[str, Any],
    *,
    note: str | None,
    photo: str | None,
) -> object:
    services = context.services
    person = context.person
    _ = context._
    ticket_id = int(act["id"])
    result = str(act.get("result", "fixed"))
    if person is None:
        return await _after_act(update, context)
    try:
        async with services.database.transaction() as session:
            change = await store.complete(
                session,
                ticket_id,
                worker=person,
                result=result,
                note=note,
                photo_file_id=photo,
                now=services.now(),
            )
            if change.event is not None:
                ticket = change.ticket

                def message(t_: Translate) -> str:
                    text = t_("{ticket} is repaired by {name}: {result}.").format(
                        ticket=ticket_head(ticket, services),
                        name=esc(person.name),
                        result=t_(RESULT_LABELS[result]),
                    )
                    if note:
                        text += "\n" + t_("Note: {note}").format(note=esc(note))
                    return text[:CAPTION_LIMIT]

                def accept_markup(t_: Translate) -> InlineKeyboardMarkup:
                    return keyboard(
                        [
                            [
                                button(t_("Accept"), f"{PREFIX}:ok:{ticket_id}"),
                                button(t_("Rework"), f"{PREFIX}:rw:{ticket_id}"),
                            ]
                        ]
                    )

                await tell_reporter(
                    session,
                    services,
                    ticket,
                    change.event,
                    lambda t_: (
                        message(t_) + "\n" + t_("Please check it and accept, or ask for rework.")
                    ),
                    reporter_markup=accept_markup,
                    photo_file_id=photo,
                )
    except store.NotAllowed as problem:
        await reply(update, context, _("Nothing changed: the job is no longer yours."))
        log.info("completion refused: %s", problem.reason)
        return await _after_act(update, context)
    if change.changed:
        outbox.deliver_soon(context.bot, services)
        await refresh_card(context.bot, services, ticket_id)
        await _say(
            update,
            context,
            _("{number} is done. The reporter has been asked to accept it.").format(
                number=esc(change.ticket.number)
            ),
        )
    else:
        await _say_moved_on(update, context, change.ticket)
    return await _after_act(update, context)


async def _finish_with_reason(
    update: Update, context: HouqinContext, act: dict[str, Any], reason: str
) -> object:
    services = context.services
    person = context.person
    user = update.effective_user
    assert user is not None
    _ = context._
    ticket_id = int(act["id"])
    action = act.get("action")
    now = services.now()
    try:
        async with services.database.transaction() as session:
            if action == "rw":
                change = await store.rework(
                    session,
                    ticket_id,
                    reporter_telegram_id=user.id,
                    reporter=person,
                    reason=reason,
                    profile=services.profile,
                    now=now,
                )
            elif person is None:
                raise store.NotAllowed("role")
            elif action == "rej":
                change = await store.reject(
                    session,
                    ticket_id,
                    actor=person,
                    reason=reason,
                    profile=services.profile,
                    now=now,
                )
            else:
                change = await store.release(
                    session, ticket_id, worker=person, reason=reason, now=now
                )
            event = change.event
            if event is not None:
                await _tell_reasoned(session, services, change.ticket, event, str(action), reason)
    except store.NotAllowed:
        await reply(update, context, _("Nothing changed: you can no longer do that."))
        return await _after_act(update, context)
    if change.changed:
        outbox.deliver_soon(context.bot, services)
        await refresh_card(context.bot, services, ticket_id)
        done = {
            "rw": _("Sent back for rework; the worker has been told."),
            "rej": _("Returned; the reporter has been told why."),
            "xfer": _("Handed back to the repair group."),
        }[str(action)]
        await _say(update, context, done)
    else:
        await _say_moved_on(update, context, change.ticket)
    return await _after_act(update, context)


async def _tell_reasoned(
    session: AsyncSession,
    services: Services,
    ticket: Ticket,
    event: TicketEvent,
    action: str,
    reason: str,
) -> None:
    head = ticket_head(ticket, services)
    if action == "rw":
        await tell_person(
            session,
            services,
            ticket.assignee_id,
            f"ticket:{ticket.id}:{event.id}:assignee",
            lambda t_: t_("The reporter asks for rework on {ticket}: {reason}").format(
                ticket=head, reason=esc(reason)
            ),
            markup=lambda t_: card_markup(ticket, t_),
        )
        return
    if action == "rej":
        await tell_reporter(
            session,
            services,
            ticket,
            event,
            lambda t_: t_("{ticket} was returned by the repair team.\nReason: {reason}").format(
                ticket=head, reason=esc(reason)
            ),
        )
        return
    await tell_reporter(
        session,
        services,
        ticket,
        event,
        lambda t_: t_(
            "{ticket} went back to the repair group for someone else to take.\nReason: {reason}"
        ).format(ticket=head, reason=esc(reason)),
    )


async def act_cancel(update: Update, context: HouqinContext) -> object:
    """/cancel during a handling input."""
    _end_act(context)
    await reply(update, context, context._("Stopped. Nothing was changed."))
    from handlers import ticket_form

    return await ticket_form.resume_if_pending(update, context) or ConversationHandler.END


async def act_other(update: Update, context: HouqinContext) -> object:
    """Anything else during a handling input (a sticker, a voice note)."""
    await reply(update, context, context._("Please send text. /cancel to stop."))
    return None


# --- lists ---------------------------------------------------------------------------------------


async def my_tickets(update: Update, context: HouqinContext) -> None:
    """/mytickets: one's tickets (and followed ones) with status, withdraw and nudge."""
    if context.person is None and not await may_report(update, context):
        return
    if not private_chat(update):
        await reply(update, context, context._("Send /mytickets to me in a private chat."))
        return
    await _show_my_tickets(update, context, edit=False)


async def _show_my_tickets(update: Update, context: HouqinContext, *, edit: bool) -> None:
    user = update.effective_user
    assert user is not None
    services = context.services
    _ = context._
    now = services.now()
    async with services.database.transaction() as session:
        found = await store.reporter_tickets(session, user.id, limit=MY_TICKETS_SHOWN)
        holders = await _names(session, *(t.assignee_id for t in found))
    if not found:
        text = _("You have no repair requests yet. /report files one.")
        if edit and update.callback_query is not None:
            await update.callback_query.edit_message_text(text)
        else:
            await reply(update, context, text)
        return
    lines = [_("<b>My repair requests</b>")]
    rows: list[list[InlineKeyboardButton]] = []
    for ticket in found:
        holder = holders.get(ticket.assignee_id) if ticket.assignee_id else None
        mine = ticket.reporter_telegram_id == user.id
        follow_mark = "" if mine else " " + _("(following)")
        lines.append(
            f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)} · "
            f"{esc(category_name(services.profile, ticket.category_key))}{follow_mark}\n  "
            + status_line(ticket, holder, now, _)
        )
        if not mine:
            continue
        row = []
        seq = short_number(ticket)
        if ticket.status == TicketStatus.OPEN:
            row.append(button(_("Withdraw {seq}").format(seq=seq), f"{PREFIX}:cxl:{ticket.id}"))
        if ticket.status in store.UNFINISHED:
            row.append(button(_("Nudge {seq}").format(seq=seq), f"{PREFIX}:nudge:{ticket.id}"))
        if ticket.status == TicketStatus.AWAITING_ACCEPTANCE:
            row.append(button(_("Accept {seq}").format(seq=seq), f"{PREFIX}:ok:{ticket.id}"))
            row.append(button(_("Rework {seq}").format(seq=seq), f"{PREFIX}:rw:{ticket.id}"))
        if row:
            rows.append(row)
    text = split_text("\n".join(lines))[0]
    markup = keyboard(rows) if rows else None
    if edit and update.callback_query is not None:
        try:
            await update.callback_query.edit_message_text(
                text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
    else:
        await reply(update, context, text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def open_tickets(update: Update, context: HouqinContext) -> None:
    """/tickets (staff and director): open jobs grouped by status, overdue marked."""
    if await require_role(update, context, {Role.STAFF, Role.DIRECTOR}) is None:
        return
    text, markup = await _tickets_view(context, mine=False)
    for chunk in split_text(text)[:-1]:
        await reply(update, context, chunk, parse_mode=ParseMode.HTML)
    await reply(
        update, context, split_text(text)[-1], parse_mode=ParseMode.HTML, reply_markup=markup
    )


async def tickets_filter_button(update: Update, context: HouqinContext) -> None:
    """'mine' / 'all' under /tickets."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.STAFF, Role.DIRECTOR}) is None:
        return
    text, markup = await _tickets_view(context, mine=query.data.endswith(":mine"))
    await query.answer()
    try:
        await query.edit_message_text(
            split_text(text)[0], parse_mode=ParseMode.HTML, reply_markup=markup
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def _tickets_view(context: HouqinContext, *, mine: bool) -> tuple[str, InlineKeyboardMarkup]:
    services = context.services
    person = context.person
    assert person is not None
    _ = context._
    now = services.now()
    async with services.database.transaction() as session:
        found = await store.active_tickets(session, assignee_id=person.id if mine else None)
        holders = await _names(session, *(t.assignee_id for t in found))
    title = _("<b>My repair jobs</b>") if mine else _("<b>Open repair jobs</b>")
    overdue = sum(1 for t in found if store.is_overdue(t, now))
    lines = [title + " " + _("({count}, {overdue} overdue)").format(
        count=len(found), overdue=overdue
    )]  # fmt: skip
    if not found:
        lines.append(_("Nothing open. 👍"))
    for status in store.ACTIVE:
        of_status = [t for t in found if t.status == status]
        if not of_status:
            continue
        lines.append("")
        lines.append(f"<b>{status_label(status, _)}</b> ({len(of_status)})")
        for ticket in of_status:
            holder = holders.get(ticket.assignee_id) if ticket.assignee_id else None
            flag = " ⚠️ " + _("Overdue") if store.is_overdue(ticket, now) else ""
            who = f" · {esc(holder)}" if holder else ""
            lines.append(
                f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)} · "
                f"{esc(category_name(services.profile, ticket.category_key))} · "
                f"{esc(urgency_name(services.profile, ticket.urgency_key))}{who}{flag}"
            )
    switch = (
        button(_("Show all"), f"{PREFIX}:list:all")
        if mine
        else button(_("Only mine"), f"{PREFIX}:list:mine")
    )
    return "\n".join(lines), keyboard([[switch]])


# --- registration --------------------------------------------------------------------------------


def conversation() -> ConversationHandler[HouqinContext]:
    """The report form and the handling inputs: one conversation per user."""
    from handlers import ticket_form

    private_input = ticket_form.PRIVATE_INPUT
    act_entries = [
        CallbackQueryHandler(act_entry, pattern=rf"^{PREFIX}:(done|defer|xfer|rej|rw):\d+$"),
        CallbackQueryHandler(act_entry, pattern=rf"^{PREFIX}:rate:\d+:[1-5]$"),
    ]
    act_state = [
        CallbackQueryHandler(act_button, pattern=rf"^{PREFIX}:(res|dd|skip):\d+(:\w+)?$"),
        MessageHandler(private_input & (filters.TEXT | filters.PHOTO), act_message),
        MessageHandler(private_input, act_other),
    ]
    with warnings.catch_warnings():
        # Keyed per user (not per chat) on purpose: a button pressed in the repair group
        # continues in the presser's private chat.
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[*ticket_form.entry_points(), *act_entries],
            states={
                FORM: ticket_form.state_handlers(),
                ACT: act_state,
            },
            fallbacks=[
                CommandHandler("cancel", ticket_form.cancel_any, filters.ChatType.PRIVATE),
            ],
            name=CONVERSATION,
            persistent=True,
            allow_reentry=True,
            per_chat=False,
        )


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    from handlers import ticket_form

    application.add_handler(conversation())
    ticket_form.register_outside(application)
    outbox.on_delivered("ticket:", _card_delivered)
    application.add_handler(CommandHandler("mytickets", my_tickets))
    application.add_handler(MessageHandler(menu_filter("mytickets"), my_tickets))
    application.add_handler(CommandHandler("tickets", open_tickets))
    application.add_handler(MessageHandler(menu_filter("tickets"), open_tickets))
    application.add_handler(CallbackQueryHandler(take_button, pattern=rf"^{PREFIX}:take:\d+$"))
    application.add_handler(CallbackQueryHandler(assign_button, pattern=rf"^{PREFIX}:asg:\d+$"))
    application.add_handler(
        CallbackQueryHandler(assign_to_button, pattern=rf"^{PREFIX}:to:\d+:\d+$")
    )
    application.add_handler(CallbackQueryHandler(start_button, pattern=rf"^{PREFIX}:start:\d+$"))
    application.add_handler(CallbackQueryHandler(nudge_button, pattern=rf"^{PREFIX}:nudge:\d+$"))
    application.add_handler(CallbackQueryHandler(cancel_button, pattern=rf"^{PREFIX}:cxl:\d+$"))
    application.add_handler(CallbackQueryHandler(accept_button, pattern=rf"^{PREFIX}:ok:\d+$"))
    application.add_handler(CallbackQueryHandler(join_button, pattern=rf"^{PREFIX}:join:\d+$"))
    application.add_handler(
        CallbackQueryHandler(tickets_filter_button, pattern=rf"^{PREFIX}:list:(all|mine)$")
    )


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms); none moved there yet."""
    return []
