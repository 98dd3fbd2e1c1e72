"""Repairs (报修): who may report, and the answers every ticket button shares (refused, moved
on, no such ticket), for the feature's handler modules (registered by handlers/tickets.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from telegram import Update
from telegram.error import TelegramError

from actions import tickets as act
from handlers.common import reply
from handlers.context import HouqinContext
from notices import tickets as told
from notices.callbacks import CallbackData, decode
from notices.render import edit_or_ignore
from notices.ticket_buttons import TicketButton
from storage import groups
from storage.models import GroupPurpose, Ticket
from storage.ticket_flow import FLOW, Actor, Move, Verdict, Who, judge

log = logging.getLogger(__name__)

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
        async with services.database.reading() as session:
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


# --- answering a press ---------------------------------------------------------------------------


def actor_of(update: Update, context: HouqinContext) -> Actor:
    """The presser as the status table sees them."""
    user = update.effective_user
    return Actor.of(context.person, context.services.profile, telegram_id=user.id if user else None)


async def alert(update: Update, context: HouqinContext, text: str) -> None:
    """A one-line answer to a press (or a reply to a message)."""
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    else:
        await reply(update, context, text)


def offered(update: Update, data: CallbackData) -> bool:
    """Whether the pressed message carries this very button. Telegram hands the bot the
    message as it sent it, while a client can send any data with a press: a press whose data
    the message never showed is forged."""
    query = update.callback_query
    markup = getattr(query.message, "reply_markup", None) if query is not None else None
    if markup is None:
        return False
    encoded = data.encode()
    return any(b.callback_data == encoded for row in markup.inline_keyboard for b in row)


async def retire_notice_buttons(update: Update, ticket_id: int) -> None:
    """The reporter pressed 验收 or 返修 under the 'repaired, please check' notice: its buttons
    go, so the old notice never offers a move again once the flow goes on in a new message
    (/mytickets still offers them until the move is made). A list's buttons for several
    tickets stay."""
    query = update.callback_query
    markup = getattr(query.message, "reply_markup", None) if query is not None else None
    if query is None or markup is None:
        return
    pressed = [decode(b.callback_data) for row in markup.inline_keyboard for b in row]
    if all(isinstance(d, TicketButton) and d.ticket_id == ticket_id for d in pressed):
        await edit_or_ignore(query.edit_message_reply_markup(None))


async def not_valid(update: Update, context: HouqinContext) -> None:
    """A press of a button the bot never offered to this person."""
    user = update.effective_user
    log.info("refused a forged ticket button from %s", user.id if user else None)
    await alert(update, context, context._("This button is not valid. Send /start to begin again."))


async def moved_on(update: Update, context: HouqinContext, ticket: Ticket) -> None:
    """The ticket is not where the button expected it: say where it is, change nothing."""
    async with context.services.database.reading() as session:
        holder = await told.holder_name(session, ticket)
    status = told.status_line(ticket, holder, context.services.now(), context._, html=False)
    await alert(
        update,
        context,
        context._("Nothing changed: {number} is now {status}.").format(
            number=ticket.number, status=status
        ),
    )


async def refused(
    update: Update,
    context: HouqinContext,
    reason: str,
    ticket: Ticket | None,
    *,
    move: Move | None = None,
    until: datetime | None = None,
) -> None:
    """Why the presser may not do that (a status table verdict, or too soon to nudge)."""
    _ = context._
    if reason == Verdict.NOT_YOURS and ticket is not None:
        async with context.services.database.reading() as session:
            holder = await told.holder_name(session, ticket)
        text = _("{name} holds this job; only they (or the director) can do that.").format(
            name=holder or "?"
        )
    elif reason == Verdict.NOT_REPORTER:
        text = _("Only the person who reported it can do that.")
    elif reason == "too_soon" and until is not None:
        text = _("You already nudged it. You can nudge again after {time}.").format(
            time=told.local_time(context.services, until)
        )
    elif reason == "nobody":
        text = _(
            "Nobody could be reminded: the repair group is not set up yet. "
            "Please call the logistics office."
        )
    elif reason == "assignee":
        text = _("That person can no longer take repair jobs.")
    elif reason == Verdict.ROLE and move is not None and FLOW[move].who == Who.DIRECTOR:
        text = _("Only the logistics director can do that.")
    elif reason == Verdict.ROLE and move == Move.TAKE:
        text = _("Only repair staff can take jobs.")
    else:
        text = _("Only repair staff can do that.")
    await alert(update, context, text)


async def answer_refusal(
    update: Update,
    context: HouqinContext,
    problem: act.NotAllowed,
    ticket_id: int,
    move: Move | None = None,
) -> None:
    """Answer a refusal raised by an action."""
    ticket = await act.get(context.services, ticket_id)
    await refused(update, context, problem.reason, ticket, move=move, until=problem.until)


async def pressed_ticket(
    update: Update, context: HouqinContext, ticket_id: int, move: Move
) -> Ticket | None:
    """The ticket a button names, if the presser may make that move on it now; otherwise the
    presser is told why (no such ticket, not theirs, moved on) and None is returned."""
    ticket = await act.get(context.services, ticket_id)
    if ticket is None:
        await alert(update, context, context._("This repair request no longer exists."))
        return None
    verdict = judge(move, ticket, actor_of(update, context))
    if verdict == Verdict.MOVED_ON:
        await moved_on(update, context, ticket)
        return None
    if verdict != Verdict.ALLOWED:
        await refused(update, context, verdict, ticket, move=move)
        return None
    return ticket


class Outcome(Protocol):
    """What an action returns: whether it changed the ticket, and the ticket now."""

    @property
    def changed(self) -> bool: ...

    @property
    def ticket(self) -> Ticket: ...


Done = TypeVar("Done", bound=Outcome)


async def make_move(
    update: Update,
    context: HouqinContext,
    ticket_id: int,
    move: Move,
    run: Callable[[], Awaitable[Done]],
) -> Done | None:
    """A press that makes a move: check it (`pressed_ticket`), run the action, and answer a
    refusal or a ticket that moved on meanwhile; the committed change otherwise."""
    if await pressed_ticket(update, context, ticket_id, move) is None:
        return None
    try:
        change = await run()
    except act.NotAllowed as problem:
        await answer_refusal(update, context, problem, ticket_id, move)
        return None
    if not change.changed:
        await moved_on(update, context, change.ticket)
        return None
    return change


async def make_reporter_move(
    update: Update,
    context: HouqinContext,
    ticket_id: int,
    move: Move,
    action: Callable[..., Awaitable[Done]],
    **details: object,
) -> Done | None:
    """A reporter's press (催办, 撤销, the stars of 验收) through `make_move`: the action gets
    the presser as the reporter, and `details` (the rating)."""
    reporter = actor_of(update, context)
    return await make_move(
        update,
        context,
        ticket_id,
        move,
        lambda: action(context.bot, context.services, ticket_id, reporter, **details),
    )
