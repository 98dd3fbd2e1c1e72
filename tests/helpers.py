"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import people
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
