"""Groups: the bot joining and leaving, /bind and /unbind (director only)."""

from __future__ import annotations

import logging

from telegram import Chat, ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import ChatMemberHandler, CommandHandler, MessageHandler, filters

from handlers.buttons import on_button
from handlers.common import allowed_press, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from notices.groups import BindButton, purposes_keyboard
from notices.render import PURPOSE_LABELS, edit_or_ignore, esc, purpose_label, purpose_named
from storage import groups
from storage.models import GroupPurpose, Role

log = logging.getLogger(__name__)

PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


def _intro(context: HouqinContext) -> str:
    _ = context._
    options = ", ".join(f"{p.value} ({_(label)})" for p, label in PURPOSE_LABELS.items())
    return _(
        "Hello everyone! I am the logistics assistant of {school}. The logistics director can "
        "bind this group with /bind followed by one of: {options}."
    ).format(school=esc(context.services.profile.school.name), options=options)


async def membership_changed(update: Update, context: HouqinContext) -> None:
    """The bot was added to or removed from a group: record it; introduce itself on arrival."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return
    services = context.services
    was_in = change.old_chat_member.status in PRESENT
    is_in = change.new_chat_member.status in PRESENT
    async with services.database.transaction() as session:
        if is_in and not was_in:
            await groups.record_joined(
                session, chat_id=change.chat.id, title=change.chat.title or "", now=services.now()
            )
        elif was_in and not is_in:
            await groups.record_left(session, chat_id=change.chat.id, now=services.now())
            log.warning(
                "removed from group %s (%s); binding dropped", change.chat.title, change.chat.id
            )
            return
        else:
            return
    await context.bot.send_message(change.chat.id, _intro(context))


async def _group_of_director(update: Update, context: HouqinContext, elsewhere: str) -> Chat | None:
    """The group a /bind or /unbind is sent in by the director; None otherwise (the sender is
    told why: `elsewhere` outside a group)."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        await reply(update, context, elsewhere)
        return None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return None
    return chat


async def bind_command(update: Update, context: HouqinContext) -> None:
    """/bind <purpose> in a group (director)."""
    _ = context._
    elsewhere = _("Use /bind inside the group you want to bind.")
    if await _group_of_director(update, context, elsewhere) is None:
        return
    wanted = purpose_named(" ".join(context.args or []))
    if wanted is None:
        await reply(
            update, context, _("What is this group for?"), reply_markup=purposes_keyboard(_)
        )
        return
    await _bind(update, context, wanted)


async def bind_button(update: Update, context: HouqinContext, data: BindButton) -> None:
    """A purpose button under /bind (director only, checked again here; only in a group)."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:  # a forged press in a private chat
        await query.answer(context._("Use /bind inside the group you want to bind."))
        return
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    await _bind(update, context, data.purpose)


async def _bind(update: Update, context: HouqinContext, purpose: GroupPurpose) -> None:
    chat = update.effective_chat
    director = context.person
    assert chat is not None and director is not None
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        _group, previous = await groups.bind_group(
            session,
            chat_id=chat.id,
            title=chat.title or "",
            purpose=purpose,
            director=director,
            now=services.now(),
        )
    text = _("This group is now the {purpose}.").format(purpose=purpose_label(purpose, _))
    if previous is not None:
        text += "\n" + _("It replaces {title}, which is no longer bound.").format(
            title=esc(previous.title)
        )
    await context.bot.send_message(chat.id, text)


async def unbind_command(update: Update, context: HouqinContext) -> None:
    """/unbind in a group (director)."""
    _ = context._
    chat = await _group_of_director(
        update, context, _("Use /unbind inside the group you want to unbind.")
    )
    if chat is None:
        return
    async with context.services.database.transaction() as session:
        purpose = await groups.unbind_group(session, chat_id=chat.id)
    if purpose is None:
        await reply(update, context, _("This group is not bound."))
    else:
        await reply(
            update,
            context,
            _("This group is no longer the {purpose}.").format(purpose=purpose_label(purpose, _)),
        )


async def group_migrated(update: Update, context: HouqinContext) -> None:
    """A group became a supergroup: its id changed, keep the binding."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    async with context.services.database.transaction() as session:
        group = await groups.get_group(session, message.chat.id)
        if group is not None:
            group.chat_id = message.migrate_to_chat_id
            session.add(group)


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    application.add_handler(ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(CommandHandler("bind", bind_command))
    application.add_handler(CommandHandler("unbind", unbind_command))
    application.add_handler(on_button(BindButton, bind_button))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated))
