"""Groups: what the binding shows as buttons (the purposes a group can be bound to), and
telling the group bound to a purpose, in the school's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup

from notices import outbox
from notices.callbacks import CallbackData
from notices.render import button, keyboard, purpose_label
from notices.services import Services
from school.i18n import Translate, translator
from storage import groups
from storage.models import GroupChat, GroupPurpose


@dataclass(frozen=True)
class BindButton(CallbackData, prefix="bind", version=2):
    """/bind without a purpose: bind this group as …"""

    purpose: GroupPurpose


def purposes_keyboard(_: Callable[[str], str]) -> InlineKeyboardMarkup:
    """The four purposes, two to a row."""
    purposes = list(GroupPurpose)
    return keyboard(
        [
            [button(purpose_label(p, _), BindButton(p)) for p in purposes[i : i + 2]]
            for i in range(0, len(purposes), 2)
        ]
    )


def group_translator(services: Services) -> Translate:
    """The language of group messages: the deployment's default."""
    return translator(services.settings.language.value)


async def tell_group(
    session: AsyncSession,
    services: Services,
    purpose: GroupPurpose,
    key: str,
    message: Callable[[Translate], str],
    *,
    markup: Callable[[Translate], InlineKeyboardMarkup | None] | None = None,
) -> GroupChat | None:
    """Queue `message` (and its buttons) for the group bound to `purpose`, in the group's
    language. Returns the group; None when none is bound (nothing is queued)."""
    group = await groups.group_for(session, purpose)
    if group is None:
        return None
    _ = group_translator(services)
    await outbox.notify(
        session,
        services,
        key=key,
        chat_id=group.chat_id,
        text=message(_),
        markup=markup(_) if markup is not None else None,
    )
    return group
