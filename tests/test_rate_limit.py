"""The Bot API limiter's handling of a button press answered too late."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.error import BadRequest

from bot.rate_limit import ChatRateLimiter

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


async def refused(*_args: Any, **_kwargs: Any) -> bool:
    raise BadRequest(TOO_OLD)


async def test_a_press_answered_again_does_not_stop_what_it_does() -> None:
    """An update handled again (after a restart, or by another worker after one died) answers
    its button press a second time; Telegram refuses, and the handler goes on."""
    limiter = ChatRateLimiter()
    data = {"callback_query_id": "42"}
    assert await limiter.process_request(refused, (), {}, "answerCallbackQuery", data, None)


async def test_other_refusals_still_raise() -> None:
    limiter = ChatRateLimiter()
    with pytest.raises(BadRequest):
        await limiter.process_request(refused, (), {}, "editMessageText", {"chat_id": 1}, None)
