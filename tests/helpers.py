"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import people
from storage.database import Database
from storage.models import Person, Role


async def register(
    sandbox: BotApiSandbox,
    services: Services,
    name: str,
    role: Role,
    post: str | None = None,
    *,
    language_code: str = "zh-hans",
) -> SandboxUser:
    """A user who joined through an invite link, as a director would hand it out."""
    user = sandbox.add_user(name, language_code=language_code)
    async with services.database.transaction() as session:
        invite = await people.create_invite(
            session, role=role, post_key=post, name=name, now=services.clock.now()
        )
    await user.start_bot(invite.code)
    return user


async def person_of(services: Services, user: SandboxUser) -> Person:
    """The stored person behind a sandbox user."""
    async with services.database.transaction() as session:
        person = await people.get_person_by_telegram_id(session, user.id)
    assert person is not None, f"{user.name} is not registered"
    return person


def private_text(sandbox: BotApiSandbox, user: SandboxUser) -> str:
    """The text of the bot's latest message in the user's private chat."""
    return sandbox.last_message(user.private_chat_id).shown_text


def impatient(services: Services, busy_timeout_ms: int = 200) -> Services:
    """The services on a second engine of the same SQLite file that waits only briefly for a
    lock (dispose of `services.database` at the end)."""
    database = Database(services.database.url, busy_timeout_ms=busy_timeout_ms)
    return replace(services, database=database)


@contextmanager
def database_locked(services: Services) -> Iterator[None]:
    """Another writer holds the SQLite database's lock while the block runs."""
    path = Path(services.database.url.removeprefix("sqlite:///"))
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


def said_busy(answer: object) -> bool:
    """Whether a button's answer (or a message text) says the system is busy."""
    text = str(getattr(answer, "text", answer))
    return "busy" in text or "系统繁忙" in text


def last_private(sandbox: BotApiSandbox, user: SandboxUser) -> SentMessage:
    """The last message in the user's private chat with the bot."""
    return sandbox.last_message(user.private_chat_id)


def button_with(message: SentMessage, prefix: str) -> str:
    """The text of the message's button whose callback data starts with `prefix`."""
    for row in message.inline_keyboard:
        for b in row:
            if str(b.get("callback_data", "")).startswith(prefix):
                return str(b["text"])
    raise LookupError(f"no button {prefix!r} on {message.shown_text!r}")


async def press_with(
    sandbox: BotApiSandbox, user: SandboxUser, message: SentMessage, prefix: str
) -> None:
    """Press the button whose callback data starts with `prefix`, on the message as it is now."""
    current = sandbox._messages.get((message.chat_id, message.message_id), message)
    await user.press(current, button_with(current, prefix))
