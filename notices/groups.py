"""What the group binding shows as buttons: the purposes a group can be bound to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.render import button, keyboard, purpose_label
from storage.models import GroupPurpose


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
