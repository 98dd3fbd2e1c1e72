"""The sandbox's voice messages: a user's voice note reaches the bot with its length, and the
bot can send it on (sendVoice), as Telegram allows with a file id it received."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import InputFile
from telegram.error import BadRequest
from telegram.ext import Application

from devtools.sandbox import BotApiSandbox

App = Application[Any, Any, Any, Any, Any, Any]


async def test_voice_sent_on_by_file_id_and_uploaded(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("冯老师")
    group = sandbox.add_group("维修群", members=[user])
    await sandbox.add_bot_to_group(group, by=user)
    sent = await user.send_voice(duration=12)
    assert sent.voice is not None and sent.voice["duration"] == 12
    card = await app.bot.send_message(group.id, "BX-2611-001")
    voice = await app.bot.send_voice(
        group.id, sent.voice["file_id"], caption="BX-2611-001", reply_to_message_id=card.message_id
    )
    assert voice.voice is not None and voice.voice.file_id == sent.voice["file_id"]
    shown = sandbox.last_message(group.id)
    assert shown.kind == "voice" and shown.reply_to == card.message_id
    assert shown.voice is not None and shown.voice["duration"] == 12
    assert shown.caption == "BX-2611-001"
    uploaded = await app.bot.send_voice(
        user.id, InputFile(b"OggS\x00", filename="v.oga"), duration=3
    )
    assert uploaded.voice is not None
    with pytest.raises(BadRequest):
        await app.bot.send_voice(user.id, "no-such-file")
    assert [name for name, _, _ in sandbox.rejected] == ["sendVoice"]
