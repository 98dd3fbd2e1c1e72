"""/bind takes the purpose as a director would say it: 维修群, 后勤群, 教师群, 领导群 (or
without 群), as well as the English keys."""

from __future__ import annotations

import pytest

from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import groups
from storage.models import GroupPurpose, Role
from tests.helpers import register


@pytest.mark.parametrize(
    ("word", "purpose"),
    [
        ("维修群", GroupPurpose.REPAIR),
        ("后勤群", GroupPurpose.STAFF),
        ("教师", GroupPurpose.TEACHERS),
        ("领导群", GroupPurpose.LEADERS),
        ("Leaders", GroupPurpose.LEADERS),
    ],
)
async def test_bind_in_the_directors_words(
    bot: BotApiSandbox, services: Services, word: str, purpose: GroupPurpose
) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    group = bot.add_group("一个群", members=[director])
    await bot.add_bot_to_group(group, by=director)
    await director.send(f"/bind {word}", chat=group)
    assert "本群已绑定为" in bot.last_message(group.id).shown_text
    async with services.database.reading() as session:
        bound = await groups.group_for(session, purpose)
    assert bound is not None and bound.chat_id == group.id
