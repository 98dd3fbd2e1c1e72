"""/mytickets (a reporter's requests, with 撤销, 催办, 验收 and 返修) and /tickets (open repair jobs
by status for the crew, overdue marked, "only mine")."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from actions import people as people_actions
from handlers.common import allowed_press, private_chat, reply, require_role
from handlers.context import HouqinContext
from handlers.ticket_presses import may_report
from notices import tickets as told
from notices.render import button, edit_or_ignore, esc, keyboard, split_text
from notices.ticket_buttons import TicketListButton, my_ticket_buttons
from storage import tickets as store
from storage.models import Role
from storage.ticket_flow import ACTIVE

MY_TICKETS_SHOWN = 10

__all__ = [
    "TicketListButton",
    "filter_button",
    "my_tickets",
    "open_tickets",
    "show_my_tickets",
    "start_updates",
]


async def my_tickets(update: Update, context: HouqinContext) -> None:
    """/mytickets: one's tickets (and followed ones) with status, withdraw and nudge; also for
    someone not registered who reported (a visitor at a QR sticker) or follows one."""
    if context.person is None and not await _has_tickets(update, context):
        if not await may_report(update, context):
            return
    if not private_chat(update):
        await reply(update, context, context._("Send /mytickets to me in a private chat."))
        return
    await show_my_tickets(update, context, edit=False)


async def _has_tickets(update: Update, context: HouqinContext) -> bool:
    user = update.effective_user
    if user is None:
        return False
    async with context.services.database.reading() as session:
        return bool(await store.reporter_tickets(session, user.id, limit=1))


async def start_updates(update: Update, context: HouqinContext) -> None:
    """t.me/BOT?start=updates, from a report filed in a group by someone the bot could not yet
    write to: the chat is open now, so the notices kept for them arrive, then their list."""
    user = update.effective_user
    assert user is not None
    await people_actions.chat_opened(context.bot, context.services, user.id)
    await reply(
        update,
        context,
        context._("From now on the progress of your repair requests comes here."),
    )
    await show_my_tickets(update, context, edit=False)


async def show_my_tickets(update: Update, context: HouqinContext, *, edit: bool) -> None:
    """The list, sent or (after a button) edited in place."""
    user = update.effective_user
    assert user is not None
    services = context.services
    _ = context._
    now = services.now()
    async with services.database.reading() as session:
        found = await store.reporter_tickets(session, user.id, limit=MY_TICKETS_SHOWN)
        holders = await told.names(session, *(t.assignee_id for t in found))
    query = update.callback_query
    if not found:
        text = _("You have no repair requests yet. /report files one.")
        if edit and query is not None:
            await edit_or_ignore(query.edit_message_text(text))
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
            told.ticket_line(services, ticket)
            + follow_mark
            + "\n  "
            + told.status_line(ticket, holder, now, _)
        )
        if mine:
            row = my_ticket_buttons(ticket, told.short_number(ticket), _)
            if row:
                rows.append(row)
    text = split_text("\n".join(lines))[0]
    markup = keyboard(rows) if rows else None
    if edit and query is not None:
        await edit_or_ignore(query.edit_message_text(text, reply_markup=markup))
    else:
        await reply(update, context, text, reply_markup=markup)


async def open_tickets(update: Update, context: HouqinContext) -> None:
    """/tickets (staff and director): open jobs grouped by status, overdue marked."""
    if await require_role(update, context, {Role.STAFF, Role.DIRECTOR}) is None:
        return
    text, markup = await _tickets_view(context, mine=False)
    chunks = split_text(text)
    for chunk in chunks[:-1]:
        await reply(update, context, chunk)
    await reply(update, context, chunks[-1], reply_markup=markup)


async def filter_button(update: Update, context: HouqinContext, data: TicketListButton) -> None:
    """'mine' / 'all' under /tickets."""
    query = await allowed_press(update, context, {Role.STAFF, Role.DIRECTOR})
    if query is None:
        return
    text, markup = await _tickets_view(context, mine=data.mine)
    await query.answer()
    await edit_or_ignore(query.edit_message_text(split_text(text)[0], reply_markup=markup))


async def _tickets_view(context: HouqinContext, *, mine: bool) -> tuple[str, InlineKeyboardMarkup]:
    services = context.services
    person = context.person
    assert person is not None
    _ = context._
    now = services.now()
    async with services.database.reading() as session:
        found = await store.active_tickets(session, assignee_id=person.id if mine else None)
        holders = await told.names(session, *(t.assignee_id for t in found))
    title = _("<b>My repair jobs</b>") if mine else _("<b>Open repair jobs</b>")
    overdue = sum(1 for t in found if store.is_overdue(t, now))
    lines = [title + " " + _("({count}, {overdue} overdue)").format(
        count=len(found), overdue=overdue
    )]  # fmt: skip
    if not found:
        lines.append(_("Nothing open. 👍"))
    for status in ACTIVE:
        of_status = [t for t in found if t.status == status]
        if not of_status:
            continue
        lines.append("")
        lines.append(f"<b>{told.status_label(status, _)}</b> ({len(of_status)})")
        for ticket in of_status:
            holder = holders.get(ticket.assignee_id) if ticket.assignee_id else None
            flag = " ⚠️ " + _("Overdue") if store.is_overdue(ticket, now) else ""
            who = f" · {esc(holder)}" if holder else ""
            urgency = esc(told.urgency_name(services.profile, ticket.urgency_key))
            lines.append(f"{told.ticket_line(services, ticket)} · {urgency}{who}{flag}")
    switch = (
        button(_("Show all"), TicketListButton(mine=False))
        if mine
        else button(_("Only mine"), TicketListButton(mine=True))
    )
    return "\n".join(lines), keyboard([[switch]])
