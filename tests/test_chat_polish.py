"""What a group member, a deactivated person and a reporter see of the bot's menus, help and
old buttons (Chinese, the default language)."""

from __future__ import annotations

from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage.models import Role
from tests.helpers import private_text, register


def _names(commands: list[dict[str, object]]) -> set[str]:
    return {str(c["command"]) for c in commands}


async def test_group_commands_for_members_and_admins_and_help_in_a_group(
    bot: BotApiSandbox, services: Services
) -> None:
    members = _names(bot.commands({"type": "all_group_chats"}, "zh"))
    admins = _names(bot.commands({"type": "all_chat_administrators"}, "zh"))
    assert "report" in members and not {"bind", "unbind"} & members
    assert {"bind", "unbind", "report"} <= admins
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    group = bot.add_group("教师群", members=[director, teacher])
    await bot.add_bot_to_group(group, by=director)
    await teacher.send("/help", chat=group)
    shown = bot.last_message(group.id).shown_text
    assert "/report" in shown and "/mytickets" not in shown and "/log" not in shown
    assert "/bind" not in shown and "私聊" in shown
    # the bot says what it is before anyone starts it
    school = services.profile.school.name
    assert school in bot.descriptions[("long", "zh")]
    assert school in bot.descriptions[("short", "en")]
    assert len(bot.descriptions[("short", "")]) <= 120


async def test_a_deactivated_person_loses_the_menu(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    await teacher.send("/start")
    assert bot.last_message(teacher.private_chat_id).reply_keyboard is not None
    assert bot.commands({"type": "chat", "chat_id": teacher.id})
    await director.send("/people")
    await director.press(bot.last_message(director.private_chat_id), "王老师")
    await director.press(bot.last_message(director.private_chat_id), "确认停用")
    await bot.settle()
    farewell = bot.last_message(teacher.private_chat_id)
    assert "停用" in farewell.shown_text
    assert farewell.reply_markup == {"remove_keyboard": True}
    assert bot.commands({"type": "chat", "chat_id": teacher.id}) == []


async def test_an_appointment_is_not_described_as_itself(
    bot: BotApiSandbox, services: Services
) -> None:
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    await teacher.send("/report 教学楼3楼301想预约安装一个书架")
    summary = private_text(bot, teacher)
    assert "预约" in summary and "预约（预约）" not in summary and "约定" in summary
