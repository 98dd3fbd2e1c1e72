"""The repair buttons that act at once: the crew's on a card (接单, 指派 and the director's
choice, 开始维修), the reporter's (验收 shows the stars, 撤销, 催办) and 同一问题 under a duplicate
notice. The buttons that need a reason, a date, a result or a rating open the act form
(handlers/ticket_act.py).

Every press is checked on the server: the ticket exists, the status table lets the presser
make that move now (storage.ticket_flow), and a 同一问题 press carries a button the message
really showed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Bot, Update
from telegram.error import Forbidden
from telegram.ext import BaseHandler

from actions import tickets as act
from handlers.buttons import on_button
from handlers.common import private_chat
from handlers.context import HouqinContext
from handlers.ticket_presses import (
    alert,
    answer_refusal,
    make_move,
    make_reporter_move,
    may_report,
    moved_on,
    not_valid,
    offered,
    pressed_ticket,
    retire_notice_buttons,
)
from notices import tickets as told
from notices.render import button, edit_or_ignore, esc, keyboard
from notices.services import Services
from notices.ticket_buttons import (
    AssignButton,
    RatingButton,
    TicketButton,
)
from storage import people
from storage import tickets as store
from storage.models import Person, Ticket
from storage.ticket_flow import Move

# --- simple presses ------------------------------------------------------------------------------


async def _make_crew_move(
    update: Update,
    context: HouqinContext,
    ticket_id: int,
    move: Move,
    action: Callable[[Bot, Services, int, Person], Awaitable[act.Change]],
) -> act.Change | None:
    """A crew member's press (接单, 开始维修) through `make_move`: the action gets the presser
    as the worker (`make_move` has checked the table: a registered person)."""

    def worker() -> Person:
        assert context.person is not None
        return context.person

    return await make_move(
        update,
        context,
        ticket_id,
        move,
        lambda: action(context.bot, context.services, ticket_id, worker()),
    )


async def _answered(update: Update, context: HouqinContext, change: act.Change, text: str) -> None:
    """After a committed change: answer the presser; a private copy of the card (an assignee's
    message) is shown as it is now."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    await query.answer(text[:200])
    message = query.message
    ticket = change.ticket
    if (
        message is not None
        and message.chat.id == user.id
        and message.message_id != ticket.group_message_id
        and getattr(message, "text", None)
    ):
        async with context.services.database.reading() as session:
            card, markup = await told.render_card(session, context.services, ticket, context._)
        await edit_or_ignore(query.edit_message_text(card, reply_markup=markup))


async def take_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """接单."""
    change = await _make_crew_move(update, context, data.ticket_id, Move.TAKE, act.take)
    if change is None:
        return
    await _answered(
        update, context, change, context._("You took {number}.").format(number=change.ticket.number)
    )


async def start_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """开始维修, by the holder."""
    change = await _make_crew_move(update, context, data.ticket_id, Move.START, act.start)
    if change is None:
        return
    await _answered(update, context, change, context._("Repair started."))


async def assign_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """指派 (or a director's 转单): the director picks the person in the private chat."""
    ticket = await pressed_ticket(update, context, data.ticket_id, Move.ASSIGN)
    if ticket is not None:
        await _send_picker(update, context, ticket)


async def _send_picker(update: Update, context: HouqinContext, ticket: Ticket) -> None:
    _ = context._
    user = update.effective_user
    assert user is not None and update.callback_query is not None and ticket.id is not None
    async with context.services.database.reading() as session:
        everyone = await people.list_people(session)
    rows = [
        [button(person.name, AssignButton(ticket.id, person.id))]
        for person in everyone
        if person.id is not None
        and person.id != ticket.assignee_id
        and store.can_handle(person, context.services.profile)
    ]
    if not rows:
        await alert(update, context, _("Nobody can take repair jobs yet."))
        return
    text = _("Who should do {number} ({place})?").format(
        number=esc(ticket.number), place=esc(ticket.place)
    )
    try:
        await context.bot.send_message(user.id, text, reply_markup=keyboard(rows))
    except Forbidden:
        await alert(update, context, _("Send /start to me in a private chat first."))
        return
    if private_chat(update):
        await update.callback_query.answer()
    else:
        await update.callback_query.answer(_("Choose the person in our private chat."))


async def assign_to_button(update: Update, context: HouqinContext, data: AssignButton) -> None:
    """A director picked the person for a job."""
    query = update.callback_query
    assert query is not None
    if await pressed_ticket(update, context, data.ticket_id, Move.ASSIGN) is None:
        return
    director = context.person
    assert director is not None
    try:
        change, assignee = await act.assign(
            context.bot, context.services, data.ticket_id, director, data.person_id
        )
    except act.NotAllowed as problem:
        await answer_refusal(update, context, problem, data.ticket_id, Move.ASSIGN)
        return
    if not change.changed:
        await moved_on(update, context, change.ticket)
        return
    await query.answer()
    await query.edit_message_text(
        context._("{number} is now with {name}.").format(
            number=esc(change.ticket.number), name=esc(assignee.name)
        )
    )


async def nudge_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """催办 from /mytickets: the holder (or the repair group) is reminded."""
    nudged = await make_reporter_move(update, context, data.ticket_id, Move.NUDGE, act.nudge)
    if nudged is None:
        return
    _ = context._
    if isinstance(nudged.told, Person):
        text = _("Nudged: {name} has been reminded.").format(name=nudged.told.name)
    else:
        text = _("Nudged: the repair group has been reminded.")
    await alert(update, context, text)


async def cancel_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """撤销 by the reporter, before anyone took it."""
    from handlers.ticket_lists import show_my_tickets

    query = update.callback_query
    assert query is not None
    change = await make_reporter_move(update, context, data.ticket_id, Move.CANCEL, act.cancel)
    if change is None:
        return
    await query.answer(context._("Withdrawn."))
    await show_my_tickets(update, context, edit=True)


async def accept_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """确认验收: the reporter is shown 1-5 stars."""
    user = update.effective_user
    assert update.callback_query is not None and user is not None
    ticket = await pressed_ticket(update, context, data.ticket_id, Move.ACCEPT)
    if ticket is None:
        return
    _ = context._
    rows = [[button(told.stars(n), RatingButton(data.ticket_id, n))] for n in (5, 4, 3, 2, 1)]
    await update.callback_query.answer()
    await retire_notice_buttons(update, data.ticket_id)
    await context.bot.send_message(
        user.id,
        _("How satisfied are you with the repair of {number}?").format(number=esc(ticket.number)),
        reply_markup=keyboard(rows),
    )


async def join_button(update: Update, context: HouqinContext, data: TicketButton) -> None:
    """同一问题 under a duplicate notice in a group: follow the existing ticket."""
    user = update.effective_user
    query = update.callback_query
    assert query is not None and user is not None
    if not await may_report(update, context):
        return
    if not offered(update, data):
        await not_valid(update, context)
        return
    if await pressed_ticket(update, context, data.ticket_id, Move.FOLLOW) is None:
        return
    followed = await act.follow(
        context.services,
        data.ticket_id,
        telegram_id=user.id,
        name=context.person.name if context.person else user.full_name,
        person=context.person,
    )
    _ = context._
    number = followed.ticket.number
    if followed.joined:
        await alert(
            update,
            context,
            _("You follow {number} now and will get its updates.").format(number=number),
        )
    else:
        await query.answer(_("You already follow {number}.").format(number=number))


# --- registration --------------------------------------------------------------------------------

AnyHandler = BaseHandler[Update, HouqinContext, object]


def _move_is(move: Move) -> Callable[[TicketButton], bool]:
    return lambda data: data.move == move


def buttons() -> list[AnyHandler]:
    """The presses outside any form."""
    presses = {
        Move.TAKE: take_button,
        Move.ASSIGN: assign_button,
        Move.START: start_button,
        Move.NUDGE: nudge_button,
        Move.CANCEL: cancel_button,
        Move.ACCEPT: accept_button,
        Move.FOLLOW: join_button,
    }
    handlers: list[AnyHandler] = [
        on_button(TicketButton, callback, when=_move_is(move)) for move, callback in presses.items()
    ]
    handlers.append(on_button(AssignButton, assign_to_button))
    return handlers
