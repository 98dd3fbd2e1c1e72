"""Cross-cutting handlers: who is speaking, permission checks, fallbacks and errors."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterable
from datetime import timedelta

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, ConversationHandler

from handlers.context import HouqinContext
from handlers.forms import END, drop_draft
from storage import people
from storage.database import DatabaseBusy
from storage.models import Person, Role
from storage.tickets import Voice

log = logging.getLogger(__name__)


async def identify(update: Update, context: HouqinContext) -> None:
    """Runs first for every update: load the person behind it and pick their language."""
    user = update.effective_user
    services = context.services
    if user is None:
        context.set_language(services.settings.language.value)
        return
    async with services.database.reading_connection() as connection:
        person = await people.person_by_telegram_id(connection, user.id)
    context.person = person if person is not None and person.active else None
    if person is not None and person.language:
        context.set_language(person.language)
    elif context.user_data and context.user_data.get("language"):
        context.set_language(str(context.user_data["language"]))
    else:
        context.set_language(services.settings.language.value)


async def reply(update: Update, context: HouqinContext, text: str, **kwargs: object) -> None:
    """Answer the update where it came from: a message reply, or a callback alert."""
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, **kwargs)  # type: ignore[arg-type]


async def require_role(
    update: Update, context: HouqinContext, roles: Iterable[Role]
) -> Person | None:
    """The current person if their role allows the action; otherwise say no and return None.

    Checked on the server for every command and every button press.
    """
    allowed = set(roles)
    person = context.person
    if person is not None and Role(person.role) in allowed:
        return person
    _ = context._
    if person is None:
        text = _("You are not registered yet. Send /start in a private chat with me to join.")
    elif allowed == {Role.DIRECTOR}:
        text = _("Only the logistics director can do that.")
    else:
        text = _("Your role cannot do that. /help shows what you can do.")
    await reply(update, context, text)
    return None


async def allowed_press(
    update: Update, context: HouqinContext, roles: Iterable[Role]
) -> CallbackQuery | None:
    """The button press behind the update if the presser's role allows it (checked on the
    server, as `require_role`); otherwise they are told why and None is returned."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, roles) is None:
        return None
    return query


async def refuse_if_too_long(update: Update, context: HouqinContext, text: str, limit: int) -> bool:
    """Say so and return True when typed text is over a field's limit (nothing is cut)."""
    if len(text) <= limit:
        return False
    await reply(
        update,
        context,
        context._("That is too long ({length} characters); please keep it under {limit}.").format(
            length=len(text), limit=limit
        ),
    )
    return True


async def typed_text(
    update: Update, context: HouqinContext, limit: int, *, if_empty: str
) -> str | None:
    """The text of the message (a photo's caption counts), stripped; None when there is none
    (the sender is told `if_empty`) or it is over `limit` (told so)."""
    message = update.effective_message
    assert message is not None
    text = (message.text or message.caption or "").strip()
    if not text:
        await reply(update, context, if_empty)
        return None
    if await refuse_if_too_long(update, context, text, limit):
        return None
    return text


def voice_in(message: Message) -> Voice | None:
    """The voice message sent (its file id and length in seconds), or None."""
    voice = message.voice
    if voice is None:
        return None
    length = voice.duration
    seconds = length.total_seconds() if isinstance(length, timedelta) else float(length)
    return Voice(voice.file_id, round(seconds))


async def end_form(update: Update, context: HouqinContext, draft: str, text: str) -> int:
    """End a form (handlers.forms): its draft (user_data key `draft`) is dropped and the
    person told `text`."""
    drop_draft(context, draft)
    await reply(update, context, text)
    return END


def private_chat(update: Update) -> bool:
    """Whether the update comes from a private chat."""
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


async def cancel(update: Update, context: HouqinContext) -> int:
    """/cancel outside any form: nothing to cancel (forms register their own /cancel)."""
    await reply(update, context, context._("Nothing to cancel. /help shows what you can do."))
    return ConversationHandler.END


async def unknown_command(update: Update, context: HouqinContext) -> None:
    """A command nobody handles."""
    if not private_chat(update):
        return  # in groups, other bots' commands are none of our business
    await reply(update, context, context._("I don't know that command. /help shows what I can do."))


async def unexpected_message(update: Update, context: HouqinContext) -> None:
    """Free text, stickers, voice or photos outside any form, in a private chat."""
    message = update.effective_message
    if message is None or not private_chat(update):
        return
    _ = context._
    if message.text:
        text = _("I did not understand that. Use the menu below or /help.")
    elif message.voice:
        text = _(
            "To report a fault by voice, send /report and then your voice message. "
            "/help shows what else I can do."
        )
    else:
        text = _("I can't use that here. Use the menu below or /help.")
    await reply(update, context, text)


async def on_error(update: object, context: HouqinContext) -> None:
    """Log the error with its update and tell the user something went wrong."""
    error = context.error
    if isinstance(error, Forbidden) and isinstance(update, Update) and update.effective_user:
        log.info("user %s blocked the bot", update.effective_user.id)
        return
    update_json = update.to_dict() if isinstance(update, Update) else str(update)
    log.error(
        "error while handling an update: %s\nupdate: %s\nuser_data: %s",
        error,
        json.dumps(update_json, ensure_ascii=False, default=str)[:2000],
        html.escape(str(context.user_data))[:500],
        exc_info=error,
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    _ = context._
    if isinstance(error, DatabaseBusy):
        text = _("The system is busy right now. Nothing was saved; please try again in a moment.")
    else:
        text = _("Sorry, something went wrong and nothing was changed. Please try again.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not tell the user about the error", exc_info=True)
    raise ApplicationHandlerStop  # the user has their answer; no fallback should add another
