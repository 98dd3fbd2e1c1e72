"""The sandbox's latency and albums, which the lifecycle tests rely on to be like Telegram."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot

from devtools.harness import until
from devtools.sandbox.server import BotApiSandbox, parse_latency


def test_latency_is_given_in_seconds_or_as_a_range() -> None:
    assert parse_latency("0.25") == 0.25
    assert parse_latency("0.3-0.5") == (0.3, 0.5)
    assert parse_latency("0") == 0.0
    for wrong in ("fast", "0.5-0.3", "-1", "0.3-"):
        with pytest.raises(ValueError):
            parse_latency(wrong)


async def test_telegram_takes_a_message_before_its_answer_arrives() -> None:
    """Half the latency passes after the call took effect: a bot stopped then has sent a
    message it has no answer for, as with the real Bot API."""
    async with BotApiSandbox(latency=0.4) as sandbox:
        user = sandbox.add_user("王老师")
        user.started = True
        async with Bot(sandbox.token, base_url=sandbox.base_url) as bot:
            sending = asyncio.create_task(bot.send_message(user.id, "你好"))
            await until(lambda: bool(sandbox.messages(user.id, from_bot=True)), "the message")
            assert not sending.done()  # Telegram has it; the bot does not know yet
            message = await sending
        assert message.text == "你好"


async def test_an_album_is_a_burst_of_photos_with_one_media_group() -> None:
    async with BotApiSandbox() as sandbox:
        user = sandbox.add_user("王老师")
        photos = await user.send_album(10, caption="漏水", settle=False)
        updates = [u["message"] for u in sandbox.emitted_updates if "message" in u]
    assert len(photos) == 10 and len(updates) == 10
    assert len({u["media_group_id"] for u in updates}) == 1
    assert [bool(u.get("caption")) for u in updates] == [True] + [False] * 9
    with pytest.raises(ValueError):
        await user.send_album(11)
