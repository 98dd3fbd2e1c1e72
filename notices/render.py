"""Rendering helpers shared by handlers: HTML escaping, labels, links, keyboards."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from notices import outbox
from notices.callbacks import CallbackData
from notices.services import Services
from school.i18n import LANGUAGES, N_, normalize_language, translator
from storage.models import GroupPurpose, Person, Role

TELEGRAM_TEXT_LIMIT = 4096

ROLE_LABELS = {
    Role.DIRECTOR: N_("Logistics director"),
    Role.STAFF: N_("Logistics staff"),
    Role.TEACHER: N_("Teacher"),
}

PURPOSE_LABELS = {
    GroupPurpose.REPAIR: N_("repair group"),
    GroupPurpose.STAFF: N_("logistics staff group"),
    GroupPurpose.TEACHERS: N_("teachers' group"),
    GroupPurpose.LEADERS: N_("leaders' group"),
}


def purpose_named(word: str) -> GroupPurpose | None:
    """The group purpose a director typed after /bind: its English key ("repair"), its label
    in any language ("维修群", "repair group"), or the label without 群 ("维修")."""
    wanted = word.strip().lower()
    for purpose, label in PURPOSE_LABELS.items():
        names = {purpose.value}
        for language in LANGUAGES:
            name = translator(language)(label).lower()
            names |= {name, name.removesuffix("群")}
        if wanted in names:
            return purpose
    return None


def esc(text: object) -> str:
    """Escape text for parse_mode=HTML."""
    return html.escape(str(text), quote=False)


def role_label(role: str, _: Callable[[str], str]) -> str:
    """The translated name of a role."""
    return _(ROLE_LABELS[Role(role)])


def purpose_label(purpose: str, _: Callable[[str], str]) -> str:
    """The translated name of a group purpose."""
    return _(PURPOSE_LABELS[GroupPurpose(purpose)])


def deep_link(bot_username: str, payload: str) -> str:
    """A t.me link that opens the private chat and sends /start <payload>."""
    return f"https://t.me/{bot_username}?start={payload}"


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    """An inline button carrying typed callback data (see notices.callbacks)."""
    return InlineKeyboardButton(text, callback_data=data.encode())


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of buttons."""
    return InlineKeyboardMarkup([list(row) for row in rows])


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split a long text at line breaks into chunks Telegram accepts; never drops anything."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


async def send_long(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send HTML text, split at line breaks when over Telegram's limit; buttons on the last."""
    chunks = split_text(text)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await bot.send_message(chat_id, chunk, reply_markup=markup if last else None)


async def queue_long(
    session: AsyncSession, services: Services, *, key: str, chat_id: int, text: str
) -> int:
    """Queue HTML text in the outbox, split like `send_long`: one notification a part, keyed
    `key:0`, `key:1`, ... How many parts were queued (none that were queued before)."""
    queued = 0
    for part, chunk in enumerate(split_text(text)):
        queued += await outbox.notify(
            session, services, key=f"{key}:{part}", chat_id=chat_id, text=chunk
        )
    return queued


def language_of(person: Person | None, fallback: str) -> str:
    """The language to use when writing to a person outside their own update."""
    if person is not None and person.language:
        return normalize_language(person.language)
    return normalize_language(fallback)


async def edit_or_ignore(edit: Awaitable[object]) -> bool:
    """Await a message edit; Telegram's "message is not modified" (a double tap, or a card that
    already shows this state) is not an error. True when the message changed."""
    try:
        await edit
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
        return False
    return True
