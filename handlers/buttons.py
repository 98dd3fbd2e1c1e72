"""Inline buttons on the handler side: route a kind of button to its callback, and answer the
buttons nobody took (out of date, forged or malformed) without a traceback.

The data itself is built and read by `notices.callbacks` (one codec for every button).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Update
from telegram.ext import CallbackQueryHandler

from handlers.context import HouqinContext
from notices.callbacks import CallbackData, Expired, Malformed, decode

log = logging.getLogger(__name__)

B = TypeVar("B", bound=CallbackData)
R = TypeVar("R")


def on_button(
    kind: type[B],
    callback: Callable[[Update, HouqinContext, B], Awaitable[R]],
    *,
    when: Callable[[B], bool] | None = None,
) -> CallbackQueryHandler[HouqinContext, R]:
    """A handler for presses of `kind` buttons (optionally only those `when` accepts); the
    callback receives the decoded data as its third argument."""

    def matches(data: object) -> bool:
        found = kind.parse(data)
        return found is not None and (when is None or when(found))

    async def pressed(update: Update, context: HouqinContext) -> R:
        assert update.callback_query is not None
        found = kind.parse(update.callback_query.data)
        assert found is not None  # matches() let it through
        return await callback(update, context, found)

    return CallbackQueryHandler(pressed, pattern=matches)


def pressed_data(update: Update) -> CallbackData | Expired | Malformed:
    """What the pressed button's data decodes to."""
    data = update.callback_query.data if update.callback_query is not None else None
    return decode(data)


async def unanswered_button(update: Update, context: HouqinContext) -> None:
    """Last in the main group: a press no handler took. An out-of-date button (an older
    release's data, or a form that is no longer open) is told it has expired; forged or
    tampered data is refused in one line, logged without a traceback."""
    query = update.callback_query
    if query is None:
        return
    found = pressed_data(update)
    _ = context._
    if isinstance(found, Malformed):
        log.info("refused malformed button data from %s: %r", query.from_user.id, found.data)
        text = _("This button is not valid. Send /start to begin again.")
    else:
        text = _("This button has expired. Send /start to begin again.")
    await query.answer(text, show_alert=True)
