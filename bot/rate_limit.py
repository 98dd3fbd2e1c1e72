"""Telegram's flood limits for every request the bot makes, chat by chat.

python-telegram-bot's AIORateLimiter pauses every request of the bot when any one of them is
answered 429: a repair group past its 20 messages a minute (Telegram then says "retry after"
up to a minute) silenced the answers to everyone else for that long. `ChatRateLimiter` holds
back only the chat Telegram named:

- a 429 pauses that chat (in the shared `notices.pacing.Pacer`) and the request is retried
  after the pause, up to `max_retries` times; requests to other chats go on meanwhile;
- a message to a group waits for the group's turn (its 20 messages a minute) instead of
  being refused (an edit adds no message: it waits only while the chat is paused);
- what the outbox sends (`notices.pacing.QUEUED`) is neither held nor retried here: the
  outbox skips a chat that must wait and serves the others (notices.outbox).

The 30 messages a second overall apply to bulk notifications, so the outbox paces itself;
answers to the person acting are not queued behind a broadcast.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, cast

from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter

from notices import outbox
from notices.pacing import QUEUED

log = logging.getLogger(__name__)

# Methods that put messages in a chat (what Telegram's per-chat limits count).
_SENDS = ("send", "copyMessage", "forwardMessage")
_NOT_MESSAGES = ("sendChatAction",)
# How Telegram refuses to answer a button press twice, or one older than ~15 seconds.
EXPIRED_QUERY = "query is too old"

Result = bool | dict[str, Any] | list[dict[str, Any]]


def _chat_of(data: dict[str, Any]) -> int | None:
    try:
        return int(data["chat_id"])
    except (KeyError, TypeError, ValueError):
        return None  # no chat (answerCallbackQuery, getMe) or a @channel name


def _messages(endpoint: str, data: dict[str, Any]) -> int:
    """How many messages the request puts in its chat."""
    if not endpoint.startswith(_SENDS) or endpoint in _NOT_MESSAGES:
        return 0
    media = data.get("media")
    return len(media) if endpoint == "sendMediaGroup" and isinstance(media, list) else 1


def _seconds(retry_after: timedelta | float) -> float:
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)


class ChatRateLimiter(BaseRateLimiter[None]):
    """Per-chat flood limits: one chat's 429 holds back that chat only (see the module)."""

    def __init__(self, max_retries: int = 5) -> None:
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up: the pacer belongs to the event loop (notices.outbox.pacer)."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Result:
        chat_id = _chat_of(data)
        count = _messages(endpoint, data) if chat_id is not None else 0
        queued = QUEUED.get()
        pacer = outbox.pacer()
        retries = 0 if queued else self.max_retries
        for attempt in range(retries + 1):
            if chat_id is not None and not queued:
                # A message waits for the chat's turn (a group's window, a 429's pause); an
                # edit or a look-up adds no message and waits for a pause only.
                turn = pacer.ready_at(chat_id) if count else pacer.pause_ends(chat_id)
                wait = turn - pacer.now()
                if wait > 0:  # a 429 meanwhile is retried below
                    await asyncio.sleep(wait)
            stamps = pacer.reserve(chat_id, count) if chat_id is not None and count else []
            if count and not queued:
                # The queue leaves room for every answer tried, a refused one too: a broadcast
                # at the full 30 a second would otherwise fill each second again before the
                # retry, and the answer would be refused to the end.
                outbox.sent_directly(count)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                delay = _seconds(exc.retry_after)
                if chat_id is not None:
                    pacer.release(chat_id, stamps)
                    pacer.pause(chat_id, delay)
                if attempt == retries:
                    raise
                log.info("%s to chat %s: 429, retried after %.0f s", endpoint, chat_id, delay)
                if chat_id is None:
                    await asyncio.sleep(delay + 0.1)
                continue
            except BadRequest as exc:
                pacer.confirm(stamps)
                if endpoint == "answerCallbackQuery" and EXPIRED_QUERY in exc.message.lower():
                    # The press was answered before (its update is handled again: after a
                    # restart, or by another worker after one died) or long ago: its spinner
                    # is gone anyway, and what the press does must still happen.
                    log.info("a button press answered too late; handled all the same")
                    return cast(Result, True)
                raise
            except BaseException:
                pacer.confirm(stamps)  # it may have arrived: keep it counted
                raise
            pacer.confirm(stamps)
            return result
        raise AssertionError("unreachable")  # pragma: no cover
