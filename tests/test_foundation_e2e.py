"""End to end: the real bot polls the local Bot API sandbox; the tests act as people."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinContext
from notices import outbox
from notices.services import Services
from school.clock import ManualClock
from storage import groups, people
from storage.models import GroupPurpose, Role
from tests.helpers import private_text, register


async def test_invite_link_registers_a_director(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    welcome = bot.last_message(director.private_chat_id)
    assert "张主任" in welcome.shown_text and "后勤主任" in welcome.shown_text
    assert welcome.reply_keyboard is not None
    assert any("邀请" in label for row in welcome.reply_keyboard for label in row)
    await director.send("/whoami")
    assert "后勤主任" in private_text(bot, director)
    per_chat = bot.commands({"type": "chat", "chat_id": director.id})
    assert {c["command"] for c in per_chat} >= {"invite", "people", "whoami"}


async def test_used_expired_and_garbage_codes_are_explained(
    bot: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    first = await register(bot, services, "王老师", Role.TEACHER)
    assert "教师" in private_text(bot, first)
    async with services.database.transaction() as session:
        used = await people.create_invite(session, role=Role.TEACHER, now=clock.now())
        expiring = await people.create_invite(
            session, role=Role.TEACHER, now=clock.now(), lifetime=timedelta(hours=1)
        )
    await first.start_bot(used.code)  # registered already: the link stays unused
    assert "不会改变你的身份" in private_text(bot, first)
    third = bot.add_user("赵老师")
    await third.start_bot(used.code)
    assert "你已注册为：赵老师 · 教师" in private_text(bot, third)
    second = bot.add_user("李老师")
    await second.start_bot(used.code)
    assert "已被使用" in private_text(bot, second)
    clock.advance(timedelta(hours=2))
    await second.start_bot(expiring.code)
    assert "过期" in private_text(bot, second)
    await second.start_bot("garbage<code>!!")
    assert "无效" in private_text(bot, second)
    await second.send("/whoami")
    assert "还没有注册" in private_text(bot, second)


async def test_stranger_asks_to_join_and_director_decides_once(
    bot: BotApiSandbox, services: Services
) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    stranger = bot.add_user("赵老师", username="zhao")
    await stranger.start_bot()
    hello = bot.last_message(stranger.private_chat_id)
    assert "邀请" in hello.shown_text
    await stranger.press(hello, "申请")
    assert "已提交" in private_text(bot, stranger)
    request = bot.last_message(director.private_chat_id)
    assert "赵老师" in request.shown_text

    refused = await teacher.press(request, "同意")
    assert refused is not None and "主任" in str(refused.text)
    async with services.database.transaction() as session:
        assert await people.get_person_by_telegram_id(session, stranger.id) is None

    await director.press(request, "同意")
    assert "已同意" in bot.last_message(director.private_chat_id).shown_text
    assert "通过" in private_text(bot, stranger)
    again = (
        await director.press(request, "拒绝")
        if bot.last_message(director.private_chat_id).buttons
        else None
    )
    assert again is None or "已处理" in str(again.text)
    await stranger.send("/whoami")
    assert "教师" in private_text(bot, stranger)


async def test_the_decision_reaches_the_stranger_though_telegram_refused_it_at_first(
    sandbox: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    """The director's approval is told to the stranger through the outbox, in the decision's
    transaction: Telegram failing that message once does not leave the new teacher unaware."""
    async with running_bot(services, sandbox) as application:
        director = await register(sandbox, services, "张主任", Role.DIRECTOR)
        stranger = sandbox.add_user("赵老师")
        await stranger.start_bot()
        await stranger.press(sandbox.last_message(stranger.private_chat_id), "申请")
        request = sandbox.last_message(director.private_chat_id)
        sandbox.fail_next("sendMessage", status=502, chat_id=stranger.private_chat_id)
        await director.press(request, "同意")
        assert "已同意" in sandbox.last_message(director.private_chat_id).shown_text

        clock.advance(timedelta(minutes=1))
        await outbox.deliver(application.bot, services)
        await outbox.deliver(application.bot, services)
    welcomes = [
        m
        for m in sandbox.messages(stranger.private_chat_id, from_bot=True)
        if "已通过" in m.shown_text
    ]
    assert len(welcomes) == 1  # once
    assert welcomes[0].reply_keyboard is not None  # with the teacher's menu
    assert "/report" in welcomes[0].shown_text or "报修" in welcomes[0].shown_text


async def test_a_declined_stranger_is_told_once(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    stranger = bot.add_user("钱先生")
    await stranger.start_bot()
    await stranger.press(bot.last_message(stranger.private_chat_id), "申请")
    request = bot.last_message(director.private_chat_id)
    await director.press(request, "拒绝")
    await bot.settle()
    assert "已拒绝" in bot.last_message(director.private_chat_id).shown_text
    told = [
        m for m in bot.messages(stranger.private_chat_id, from_bot=True) if "未通过" in m.shown_text
    ]
    assert len(told) == 1
    async with services.database.reading() as session:
        assert await people.get_person_by_telegram_id(session, stranger.id) is None


async def test_director_invites_staff_from_the_chat(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    await director.send("/invite")
    menu = bot.last_message(director.private_chat_id)
    await director.press(menu, "后勤员工")
    await director.press(bot.last_message(director.private_chat_id), "水电工")
    link_message = bot.last_message(director.private_chat_id)
    assert "https://t.me/houqin_bot?start=" in link_message.shown_text
    code = link_message.shown_text.split("?start=")[1].split()[0]
    worker = bot.add_user("李师傅")
    await worker.start_bot(code)
    await worker.send("/whoami")
    whoami = private_text(bot, worker)
    assert "水电工" in whoami and "岗位职责" in whoami


async def test_only_a_director_binds_groups(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    group = bot.add_group("维修群", members=[director, teacher])
    await bot.add_bot_to_group(group, by=director)
    assert "/bind" in bot.last_message(group.id).shown_text

    await teacher.send("/bind repair", chat=group)
    assert "只有后勤主任" in bot.last_message(group.id).shown_text
    await director.send("/bind", chat=group)
    choice = bot.last_message(group.id)
    refused = await teacher.press(choice, "维修群")
    assert refused is not None and "只有后勤主任" in str(refused.text)
    await director.press(choice, "维修群")
    assert "维修群" in bot.last_message(group.id).shown_text
    async with services.database.transaction() as session:
        bound = await groups.group_for(session, GroupPurpose.REPAIR)
    assert bound is not None and bound.chat_id == group.id

    await director.send("/unbind", chat=group)
    async with services.database.transaction() as session:
        assert await groups.group_for(session, GroupPurpose.REPAIR) is None
    await director.send("/bind@houqin_bot staff", chat=group)
    await bot.remove_bot_from_group(group, by=director)
    async with services.database.transaction() as session:
        left = await groups.get_group(session, group.id)
    assert left is not None and not left.is_member and left.purpose is None


async def test_people_list_and_deactivation(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    await teacher.send("/people")
    assert "只有后勤主任" in private_text(bot, teacher)
    await director.send("/people")
    listing = bot.last_message(director.private_chat_id)
    assert "王老师" in listing.shown_text and "张主任" in listing.shown_text
    await director.press(listing, "王老师")
    answer = await director.press(bot.last_message(director.private_chat_id), "确认停用")
    assert answer is not None and "王老师 已停用" in str(answer.text)
    assert "王老师" not in bot.last_message(director.private_chat_id).shown_text
    await teacher.send("/whoami")
    assert "还没有注册" in private_text(bot, teacher)


async def test_language_switch_and_help(bot: BotApiSandbox, services: Services) -> None:
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    await teacher.send("/lang")
    await teacher.press(bot.last_message(teacher.private_chat_id), "English")
    await teacher.send("/help")
    help_message = bot.last_message(teacher.private_chat_id)
    assert "What you can do" in help_message.shown_text
    assert "/invite" not in help_message.shown_text
    await teacher.send("/whoami")
    assert "Teacher" in private_text(bot, teacher)
    assert bot.commands({"type": "all_private_chats"}, "en")
    assert bot.commands({"type": "all_group_chats"}, "zh")


async def test_bad_input_gets_a_friendly_answer(bot: BotApiSandbox, services: Services) -> None:
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    await teacher.send("/frobnicate")
    assert "/help" in private_text(bot, teacher)
    await teacher.send_sticker()
    assert "/help" in private_text(bot, teacher)
    await teacher.send_voice()
    assert "/help" in private_text(bot, teacher)
    await teacher.send("x" * 5000)
    assert "/help" in private_text(bot, teacher)
    await teacher.send("/invite")
    assert "只有后勤主任" in private_text(bot, teacher)


async def test_a_failing_handler_tells_the_user(bot: BotApiSandbox, services: Services) -> None:
    del bot
    sandbox = BotApiSandbox()
    async with sandbox, running_bot(services, sandbox) as application:

        async def boom(update: Update, context: HouqinContext) -> None:
            raise RuntimeError("disk on fire")

        application.add_handler(CommandHandler("boom", boom), group=-1)
        user = sandbox.add_user("王老师")
        mark = sandbox.mark()
        await user.send("/boom")
        answers = sandbox.bot_messages_since(mark)
        assert [m.shown_text for m in answers] == ["抱歉，出错了，没有做任何更改。请再试一次。"]


async def test_429_is_retried_after_retry_after(bot: BotApiSandbox, services: Services) -> None:
    teacher = await register(bot, services, "王老师", Role.TEACHER)
    bot.fail_next("sendMessage", status=429, retry_after=1)
    await teacher.send("/whoami")
    assert bot.stats["429"] == 1
    assert "教师" in private_text(bot, teacher)


async def test_a_strangers_language_survives_a_restart(
    services: Services, sandbox: BotApiSandbox
) -> None:
    stranger = sandbox.add_user("Tom", language_code="en")
    async with running_bot(services, sandbox):
        await stranger.send("/lang")
        await stranger.press(sandbox.last_message(stranger.private_chat_id), "English")
    async with running_bot(services, sandbox):
        await stranger.send("/help")
        assert "What you can do" in sandbox.last_message(stranger.private_chat_id).shown_text


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_cli_invite_link_registers_through_the_bot(
    services: Services, sandbox: BotApiSandbox, tmp_path: Path
) -> None:
    async with running_bot(services, sandbox):
        env = {**os.environ, "DATABASE_URL": services.database.url}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot.cli", "invite", "--role", "director", "--name", "张主任"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=True,
        )
        link, code = result.stdout.strip().splitlines()
        assert link == f"https://t.me/houqin_bot?start={code}"
        director = sandbox.add_user("Zhang")
        await director.start_bot(code)
        assert "张主任" in sandbox.last_message(director.private_chat_id).shown_text
