"""People's and groups' buttons as a user meets them: forged or tampered presses (a join request
or person that does not exist, a number too big for any database, a post or purpose nobody
offered, a press by someone not allowed) are refused in one line; buttons of an older release
are answered as expired. Through the real bot and the sandbox."""

from __future__ import annotations

import logging

import pytest

from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import groups, people
from storage.models import GroupPurpose, Role
from tests.helpers import person_of, private_text, register

EXPIRED = "此按钮已过期"
NOT_VALID = "此按钮无效"
HUGE = "9" * 26


async def press_as(
    user: SandboxUser, message: SentMessage, data: str, *, text: str = "x"
) -> CallbackAnswer | None:
    """Press a button carrying `data` on `message` (as a forged or an old client would)."""
    message.reply_markup = {"inline_keyboard": [[{"text": text, "callback_data": data}]]}
    return await user.press(message, text)


def said(answer: CallbackAnswer | None) -> str:
    assert answer is not None, "the press was not answered"
    return str(answer.text)


async def test_forged_and_old_join_invite_and_people_buttons(
    bot: BotApiSandbox, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    stranger = bot.add_user("赵老师")
    await stranger.start_bot()
    hello = bot.last_message(stranger.private_chat_id)
    assert EXPIRED in said(await press_as(stranger, hello, "join:ask"))  # an older release
    await director.send("/whoami")
    mine = bot.last_message(director.private_chat_id)

    # Join requests: none with that id, zero, a 26-digit id, the older format, a teacher.
    for data in ("join2:ok:999999", "join2:no:0"):
        assert "该申请已不存在" in said(await press_as(director, mine, data))
    assert NOT_VALID in said(await press_as(director, mine, f"join2:ok:{HUGE}"))
    assert EXPIRED in said(await press_as(director, mine, "join:ok:1"))
    assert "只有后勤主任" in said(await press_as(teacher, mine, "join2:ok:1"))

    # Invites: a post nobody offered, a role that does not exist, the older format, a teacher.
    assert "/invite" in said(await press_as(director, mine, "inv2:p:astronaut"))
    assert "/invite" in said(await press_as(director, mine, "inv2:r:king"))
    assert EXPIRED in said(await press_as(director, mine, "inv:r:teacher"))
    assert "只有后勤主任" in said(await press_as(teacher, mine, "inv2:r:director"))

    # /people: a person who does not exist, a huge id, a page far past the end, old format.
    await director.send("/people")
    listing = bot.last_message(director.private_chat_id)
    assert "没有这个人" in said(await press_as(director, listing, "ppl2:offok:999999:0"))
    assert NOT_VALID in said(await press_as(director, listing, f"ppl2:off:{HUGE}:0"))
    await press_as(director, listing, "ppl2:pg:0:9999999")
    assert "王老师" in bot.last_message(director.private_chat_id).shown_text  # the last page
    assert EXPIRED in said(await press_as(director, listing, "ppl:pg:0"))
    me = await person_of(services, director)
    assert "只有后勤主任" in said(await press_as(teacher, listing, f"ppl2:offok:{me.id}:0"))
    assert "不能停用你自己" in said(await press_as(director, listing, f"ppl2:offok:{me.id}:0"))
    async with services.database.reading() as session:
        assert all(p.active for p in await people.list_people(session, include_inactive=True))

    # Languages: the older format is expired; nothing changes.
    await teacher.send("/lang")
    choice = bot.last_message(teacher.private_chat_id)
    assert EXPIRED in said(await press_as(teacher, choice, "lang:en"))
    await teacher.send("/whoami")
    assert "教师" in private_text(bot, teacher)
    assert bot.rejected == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback


async def test_forged_and_old_bind_buttons(
    bot: BotApiSandbox, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    group = bot.add_group("维修群", members=[director, teacher])
    await bot.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    choice = bot.last_message(group.id)
    assert EXPIRED in said(await press_as(director, choice, "bind:repair"))  # older release
    assert NOT_VALID in said(await press_as(director, choice, "bind2:kitchen"))
    assert "只有后勤主任" in said(await press_as(teacher, choice, "bind2:repair"))
    # A purpose button pressed in the director's private chat would bind that chat.
    await director.send("/whoami")
    private = bot.last_message(director.private_chat_id)
    assert "/bind" in said(await press_as(director, private, "bind2:repair"))
    async with services.database.reading() as session:
        assert await groups.group_for(session, GroupPurpose.REPAIR) is None
    assert bot.rejected == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback


async def test_a_join_request_reaches_every_director_once_even_if_one_blocked_the_bot(
    bot: BotApiSandbox, services: Services
) -> None:
    first = await register(bot, services, "张主任", Role.DIRECTOR)
    second = await register(bot, services, "刘主任", Role.DIRECTOR)
    await first.block_bot()
    stranger = bot.add_user("赵老师")
    await stranger.start_bot()
    hello = bot.last_message(stranger.private_chat_id)
    await stranger.press(hello, "申请")
    assert "已提交" in private_text(bot, stranger)
    requests = [m for m in bot.messages(second.private_chat_id, from_bot=True) if m.buttons]
    assert len(requests) == 1 and "赵老师" in requests[0].shown_text
    await second.press(requests[0], "同意")
    assert "通过" in private_text(bot, stranger)
    assert bot.rejected == []
