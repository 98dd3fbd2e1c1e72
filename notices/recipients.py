"""Who is told, in which language: a person in their own (their /lang, else the school's),
a group bound to a purpose in the school's. Everything is queued into the outbox in the
caller's transaction, so it goes out once the change it announces is committed."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from notices import outbox
from notices.render import language_of
from notices.services import Services
from school.i18n import Translate, translator
from storage import groups
from storage.models import GroupChat, GroupPurpose, Person

Message = Callable[[Translate], str]
Markup = Callable[
    [Translate], InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
]


def group_translator(services: Services) -> Translate:
    """The language of group messages: the deployment's default."""
    return translator(services.settings.language.value)


def translator_for(person: Person | None, services: Services) -> Translate:
    """The language to write to a person in."""
    return translator(language_of(person, services.settings.language.value))


async def tell(
    session: AsyncSession,
    services: Services,
    person: Person,
    key: str,
    message: Message,
    markup: Markup | None = None,
) -> bool:
    """Queue `message` (and its buttons) for a person in their language; False when `key` was
    queued before (a job that runs twice tells once)."""
    t_ = translator_for(person, services)
    return await outbox.notify(
        session,
        services,
        key=key,
        chat_id=person.telegram_id,
        text=message(t_),
        markup=markup(t_) if markup is not None else None,
    )


async def tell_group(
    session: AsyncSession,
    services: Services,
    purpose: GroupPurpose,
    key: str,
    message: Message,
    markup: Markup | None = None,
) -> GroupChat | None:
    """Queue `message` (and its buttons) for the group bound to `purpose`, in the group's
    language. Returns the group; None when none is bound (nothing is queued)."""
    group = await groups.group_for(session, purpose)
    if group is None:
        return None
    _ = group_translator(services)
    text, buttons = message(_), markup(_) if markup is not None else None
    await outbox.notify(
        session, services, key=key, chat_id=group.chat_id, text=text, markup=buttons
    )
    return group
