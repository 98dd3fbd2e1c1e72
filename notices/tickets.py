"""What the bot tells people about repairs: the ticket card in the repair group, the reporter's
and followers' updates, the holder's and director's messages, and the new ticket's publication.

Used by the actions (actions/tickets.py), the handlers and the scheduled jobs alike. Everything
is queued in the caller's transaction through the outbox; the card is edited in place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import TelegramError

from notices import outbox
from notices.recipients import group_translator, tell, tell_group, translator_for
from notices.render import esc
from notices.services import Services
from notices.ticket_buttons import RESULT_LABELS, Result, card_markup
from notices.ticket_costs import cost_summary
from school.i18n import N_, Translate
from school.profile import SchoolProfile
from storage import groups, people
from storage import outbox as outbox_store
from storage import ticket_costs as costs
from storage import tickets as store
from storage.models import (
    GroupChat,
    GroupPurpose,
    Person,
    Ticket,
    TicketEvent,
    TicketMaterial,
    TicketStatus,
)
from storage.ticket_flow import SHOWS_HOLDER
from storage.tickets import Voice

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024
# How long a worker that does not send the queue waits for its card to land (scale-out).
CARD_WAIT = 15.0

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

Message = Callable[[Translate], str]


# --- small texts ---------------------------------------------------------------------------------


def status_label(status: str, _: Translate) -> str:
    """The translated name of a ticket status."""
    return _(STATUS_LABELS[TicketStatus(status)])


def result_label(result: str, _: Translate) -> str:
    """The translated name of a repair result."""
    try:
        return _(RESULT_LABELS[Result(result)])
    except ValueError:
        return result


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


def voice_line(voice: Voice, _: Translate) -> str:
    """'🎤 Voice description 0:12' (a report's voice message)."""
    return "🎤 " + _("Voice description {length}").format(length=voice.length)


def short_number(ticket: Ticket) -> str:
    """The per-month sequence of a ticket number, for tight buttons (BX-2611-007 → 007)."""
    return ticket.number.rsplit("-", 1)[-1]


async def names(session: AsyncSession, *ids: int | None) -> dict[int, str]:
    """Names of people by id."""
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
    return (await names(session, ticket.assignee_id)).get(ticket.assignee_id)


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
    if holder and ticket.status in SHOWS_HOLDER:
        text += _(" ({name})").format(name=esc(holder) if html else holder)
    if store.is_overdue(ticket, now):
        text += " ⚠️ " + _("Overdue")
    return text


def ticket_head(ticket: Ticket, services: Services) -> str:
    """'BX-2611-007 (实验楼3楼女厕 · 水暖)' for notifications."""
    category = category_name(services.profile, ticket.category_key)
    return f"<b>{esc(ticket.number)}</b> ({esc(ticket.place)} · {esc(category)})"


def ticket_line(services: Services, ticket: Ticket) -> str:
    """'• BX-2611-007 实验楼3楼女厕 · 水暖' for lists."""
    category = category_name(services.profile, ticket.category_key)
    return f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)} · {esc(category)}"


# --- the card ------------------------------------------------------------------------------------


def card_text(
    services: Services,
    ticket: Ticket,
    *,
    holder: str | None,
    photo_count: int,
    _: Translate,
    voice: Voice | None = None,
    done_voice: Voice | None = None,
    materials: Sequence[TicketMaterial] = (),
) -> str:
    """The ticket card (HTML, well under 1024 characters for short reports); a voice
    description and a voice note on the result are said, the voice description posted below."""
    profile = services.profile
    now = services.now()
    lines = [
        f"🔧 <b>{esc(ticket.number)}</b> · {esc(category_name(profile, ticket.category_key))}"
        f" · {esc(urgency_name(profile, ticket.urgency_key))}",
        f"📍 {esc(ticket.place)}",
        f"📝 {esc(ticket.description[:400]) or _('(in the voice description)')}",
        "👤 "
        + _("Reported by {name} at {time}").format(
            name=esc(ticket.reporter_name), time=local_time(services, ticket.created_at)
        ),
        "⏱ " + esc(limits_text(services, ticket, _)),
    ]
    if photo_count:
        lines.append("📷 " + _("{count} photo(s) below").format(count=photo_count))
    if voice is not None:
        lines.append(voice_line(voice, _) + " " + _("(below)"))
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
        note = f" · {esc(ticket.result_note[:200])}" if ticket.result_note else ""
        if done_voice is not None:
            note += " · 🎤 " + done_voice.length
        lines.append(_("Result: {result}").format(result=result_label(ticket.result, _)) + note)
    lines.extend(cost_summary(materials, ticket.hours, _))
    if ticket.status == TicketStatus.CLOSED and ticket.rating:
        rating = stars(ticket.rating)
        if ticket.auto_closed:
            rating += " " + _("(accepted automatically)")
        if ticket.rating_comment:
            rating += f" “{esc(ticket.rating_comment[:100])}”"
        lines.append(_("Rating: {stars}").format(stars=rating))
    return "\n".join(lines)


async def render_card(
    session: AsyncSession, services: Services, ticket: Ticket, _: Translate
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Card text and buttons of a ticket as it is now."""
    assert ticket.id is not None
    media = await store.media_of(session, ticket.id)
    holder = await holder_name(session, ticket)
    text = card_text(
        services,
        ticket,
        holder=holder,
        photo_count=len(media.photos),
        _=_,
        voice=media.voice,
        done_voice=media.done_voice,
        materials=await costs.lines_of(session, ticket.id),
    )
    return text, card_markup(ticket, _)


def card_key(ticket_id: int) -> str:
    """Outbox key of a ticket's card in the repair group."""
    return f"ticket:{ticket_id}:card"


CARD_KEY = re.compile(r"^ticket:(\d+):card$")


async def card_delivered(session: AsyncSession, notification: Any, message_id: int) -> None:
    """Outbox hook: the card reached the repair group; remember where, whoever delivered it."""
    match = CARD_KEY.match(notification.key)
    if match is not None:
        await store.link_card(
            session, int(match.group(1)), chat_id=notification.chat_id, message_id=message_id
        )


outbox.on_delivered("ticket:", card_delivered)


async def queue_card_edit(session: AsyncSession, services: Services, ticket: Ticket) -> bool:
    """Queue, in the transaction of a change, the edit of the ticket's card in the repair group
    to show the ticket as it is now; `refresh_card` sends it after the commit.

    Queued in the outbox under one key per card, so Telegram refusing the edit (a 5xx, a
    time-out) leaves it to be retried, and a newer state of the card supersedes an older one
    (notices.outbox). A card not posted yet goes out as it is now. False without a card (no
    repair group was bound when the ticket was filed).
    """
    assert ticket.id is not None
    if ticket.group_message_id is None:
        # Delivered by an outbox pass before the delivery hook existed: link it now.
        sent = await outbox_store.sent_to(session, card_key(ticket.id))
        if sent is not None:
            await store.link_card(session, ticket.id, chat_id=sent[0], message_id=sent[1])
    text, markup = await render_card(session, services, ticket, group_translator(services))
    return await outbox.queue_edit(
        session,
        services,
        of=card_key(ticket.id),
        text=text,
        markup=markup,
        send_after_commit=True,
    )


async def refresh_card(bot: Bot, services: Services, ticket_id: int) -> None:
    """After the commit of a change that ran `queue_card_edit`: edit the card now. If Telegram
    refuses, the outbox retries the edit (the latest one) until the card shows it.

    A change that queued no edit (a caller without `queue_card_edit`) gets one queued now,
    after its commit, so its card is still brought up to date and retried.
    """
    key = outbox_store.edit_key(card_key(ticket_id))
    if await outbox.send_now(bot, services, key):
        return
    async with services.database.transaction() as session:
        ticket = await store.get_ticket(session, ticket_id)
        queued = ticket is not None and await queue_card_edit(session, services, ticket)
    if queued:
        await outbox.send_now(bot, services, key)


# --- who is told ---------------------------------------------------------------------------------


async def tell_reporter(
    session: AsyncSession,
    services: Services,
    ticket: Ticket,
    event: TicketEvent,
    message: Message,
    *,
    reporter_markup: Callable[[Translate], InlineKeyboardMarkup] | None = None,
    photo_file_id: str | None = None,
    voice_file_id: str | None = None,
) -> None:
    """Queue an update for the reporter and every follower (same text, their language; the
    buttons only for the reporter), as the caption of a photo or voice message if given."""

    async def tell(
        who: str,
        chat_id: int,
        person: Person | None,
        markup: Callable[[Translate], InlineKeyboardMarkup] | None = None,
    ) -> None:
        t_ = translator_for(person, services)
        await outbox.notify(
            session,
            services,
            key=f"ticket:{ticket.id}:{event.id}:{who}",
            chat_id=chat_id,
            text=message(t_),
            markup=markup(t_) if markup is not None else None,
            photo_file_id=photo_file_id,
            voice_file_id=voice_file_id,
        )

    reporter = await people.get_person(session, ticket.reporter_id) if ticket.reporter_id else None
    await tell("reporter", ticket.reporter_telegram_id, reporter, reporter_markup)
    assert ticket.id is not None
    for follower in await store.followers_of(session, ticket.id):
        person = (
            await people.get_person(session, follower.person_id) if follower.person_id else None
        )
        await tell(f"f{follower.telegram_id}", follower.telegram_id, person)


async def tell_person(
    session: AsyncSession,
    services: Services,
    person_id: int | None,
    key: str,
    message: Message,
    *,
    markup: Callable[[Translate], InlineKeyboardMarkup | None] | None = None,
) -> None:
    """Queue a message for a registered person (the holder, an assignee, a director)."""
    if person_id is None:
        return
    person = await people.get_person(session, person_id)
    if person is not None and person.active:
        await tell(session, services, person, key, message, markup)


async def tell_holder_or_group(
    session: AsyncSession, services: Services, ticket: Ticket, key: str, message: Message
) -> Person | GroupChat | None:
    """The holder, or the repair group while nobody who can be reached holds the job (催办).
    Returns who was told; None when nobody can be (nothing is queued)."""
    holder = await people.get_person(session, ticket.assignee_id) if ticket.assignee_id else None
    if holder is not None and holder.active and holder.reachable:
        await tell_person(session, services, holder.id, key, message)
        return holder
    return await tell_group(session, services, GroupPurpose.REPAIR, key, message)


async def tell_sent_back(
    session: AsyncSession, services: Services, change: Any, holder: str
) -> None:
    """A deactivated holder's job is back in the queue: the reporter (and followers) and the
    repair group are told, so someone takes it again."""
    ticket, event = change.ticket, change.event
    head = ticket_head(ticket, services)
    back = N_("{ticket} is waiting for someone to take it again: {name} no longer handles repairs.")
    await tell_reporter(
        session, services, ticket, event, lambda t_: t_(back).format(ticket=head, name=esc(holder))
    )
    await tell_group(
        session,
        services,
        GroupPurpose.REPAIR,
        f"ticket:{ticket.id}:{event.id}:group",
        lambda _: _(back).format(ticket=head, name=esc(holder)),
        markup=lambda _: card_markup(ticket, _),
    )


# --- publishing a new ticket ---------------------------------------------------------------------


def confirmation_key(ticket_id: int) -> str:
    """The outbox key of the reporter's confirmation (number and time limits)."""
    return f"ticket:{ticket_id}:confirm"


async def queue_publication(session: AsyncSession, services: Services, ticket: Ticket) -> None:
    """Queue the new ticket's card and the reporter's confirmation in the caller's transaction.

    Called in the transaction that files the ticket, so a ticket never exists without its card
    on the way (a crash right after the commit still posts it, once, at the next start).
    Idempotent: the outbox keys make a second call queue nothing.
    """
    assert ticket.id is not None
    ticket_id = ticket.id
    group = await groups.group_for(session, GroupPurpose.REPAIR)
    if group is not None:
        text, markup = await render_card(session, services, ticket, group_translator(services))
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
    """Deliver the queued card (paced with other notifications), then its photos and voice
    description under it."""
    await outbox.deliver(bot, services)
    ticket, photos, voice = await _card_of(services, ticket_id)
    waiting = ticket is not None and ticket.group_message_id is None and (photos or voice)
    if waiting and outbox.sent_elsewhere():
        # Another worker sends the queue (scale-out): wait for the card to land, to reply to it.
        await outbox.delivered(services, card_key(ticket_id), within=CARD_WAIT)
        ticket, photos, voice = await _card_of(services, ticket_id)
    if ticket is None or ticket.group_chat_id is None or ticket.group_message_id is None:
        return  # no repair group, or the card is not delivered yet (the outbox retries it)
    if photos:
        await _send_photos(
            bot, ticket.group_chat_id, ticket.group_message_id, photos, ticket.number
        )
    if voice is not None:
        await _send_voice(bot, ticket.group_chat_id, ticket.group_message_id, voice, ticket.number)


async def _card_of(
    services: Services, ticket_id: int
) -> tuple[Ticket | None, Sequence[str], Voice | None]:
    """The ticket (with where its card landed), its photos and its voice description."""
    async with services.database.reading() as session:
        ticket = await store.get_ticket(session, ticket_id)
        media = await store.media_of(session, ticket_id)
    return ticket, media.photos, media.voice


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


async def _send_voice(bot: Bot, chat_id: int, reply_to: int, voice: Voice, number: str) -> None:
    """The report's voice description, playable in the repair group, as a reply to the card."""
    try:
        await bot.send_voice(chat_id, voice.file_id, caption=number, reply_to_message_id=reply_to)
    except TelegramError as exc:
        log.warning("could not post the voice description of %s: %s", number, exc)
