"""/place 教学楼302 and the 📍 button on a repair card: a place's repair history (count, last
fixes, materials, cost), for the director and the repair crew."""

from __future__ import annotations

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import CommandHandler

from handlers.buttons import on_button
from handlers.common import reply
from handlers.context import HouqinApp, HouqinContext
from handlers.ticket_presses import alert, not_valid, offered
from notices.place_history import history_text
from notices.render import esc
from notices.ticket_buttons import PlaceButton
from storage import place_history as places
from storage import tickets as store
from storage.models import Role

MAX_PLACE = 100


def _may_see(context: HouqinContext) -> bool:
    """Directors and staff whose post handles repairs."""
    person = context.person
    if person is None or not person.active:
        return False
    return Role(person.role) == Role.DIRECTOR or store.can_handle(person, context.services.profile)


async def place_command(update: Update, context: HouqinContext) -> None:
    """/place 教学楼302: the place's repair history."""
    _ = context._
    if not _may_see(context):
        await reply(update, context, _("Only the director and the repair crew can see that."))
        return
    text = " ".join(context.args or []).strip()
    if not text or len(text) > MAX_PLACE:
        await reply(update, context, _("Which place? Send it like /place 教学楼302."))
        return
    services = context.services
    key = places.key_of_text(services.profile, text)
    async with services.database.reading() as session:
        found = await places.history(session, key)
        said = await history_text(session, services, found, _) if found else None
    if said is None:
        said = _("No repair ticket at {place} yet.").format(place=esc(text))
    await reply(update, context, said)


async def place_button(update: Update, context: HouqinContext, data: PlaceButton) -> None:
    """📍 on a card: the history of the ticket's place, in the presser's private chat."""
    query = update.callback_query
    assert query is not None
    _ = context._
    if not offered(update, data):
        await not_valid(update, context)
        return
    if not _may_see(context):
        await alert(update, context, _("Only the director and the repair crew can see that."))
        return
    services = context.services
    async with services.database.reading() as session:
        ticket = await store.get_ticket(session, data.ticket_id)
        found = await places.history(session, ticket.place_key) if ticket else None
        said = await history_text(session, services, found, _) if found else None
    if said is None:
        await alert(update, context, _("This button has expired."))
        return
    user = update.effective_user
    assert user is not None
    try:
        await context.bot.send_message(user.id, said)
    except Forbidden:
        await alert(update, context, _("Send /start to me in a private chat first."))
        return
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        await query.answer()
    else:
        await query.answer(_("Sent to our private chat."))


def register(application: HouqinApp) -> None:
    """/place and the 📍 button."""
    application.add_handler(CommandHandler("place", place_command))
    application.add_handler(on_button(PlaceButton, place_button))
