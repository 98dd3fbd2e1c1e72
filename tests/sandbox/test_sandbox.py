"""The Bot API sandbox against a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from devtools.sandbox import BotApiSandbox, BotApiSpec, html_to_plain
from tests.sandbox.conftest import errors

App = Application[Any, Any, Any, Any, Any, Any]


async def test_echo_and_command_through_settle(sandbox: BotApiSandbox, app: App) -> None:
    teacher = sandbox.add_user("王老师", username="wang")
    await teacher.send("你好")
    reply = sandbox.last_message(teacher.private_chat_id)
    assert reply.text == "你好"
    assert reply.from_bot and reply.reply_to is None  # PTB quotes only in groups
    await teacher.send("/whoami")
    assert sandbox.last_message(teacher.id).text == f"id={teacher.id} chat=private"
    assert [m.sender for m in sandbox.messages(teacher.id)] == [teacher.id, "bot"] * 2


async def test_button_press_answers_and_edits(sandbox: BotApiSandbox, app: App) -> None:
    teacher = sandbox.add_user("王老师")
    await teacher.start_bot("abc123")
    welcome = sandbox.last_message(teacher.id)
    assert welcome.text == "欢迎 abc123"
    assert welcome.buttons == [["接单", "退回"], ["说明"]]
    assert welcome.button("说明")["url"] == "https://example.org/help"
    marker = sandbox.mark()
    answer = await teacher.press(welcome, "接单")
    assert answer is not None and answer.text == "已处理 take" and not answer.show_alert
    assert welcome.text == "已接单: take"
    assert welcome.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert welcome.edits[0].text == "欢迎 abc123"
    assert sandbox.bot_messages_since(marker) == [welcome]
    with pytest.raises(LookupError, match="available: \\(no inline buttons\\)"):
        await teacher.press(welcome, "退回")
    lines = sandbox.transcript()
    assert lines[0] == "王老师 → 后勤通: /start abc123"
    assert lines[1] == "后勤通 → 王老师: 欢迎 abc123  [按钮: 接单 | 退回 / 说明]"
    assert lines[2] == "王老师 ▶ [接单]"
    assert lines[3] == "后勤通 ⚠ 王老师: (callback answer) 已处理 take"
    assert lines[4] == "后勤通 ✎ 王老师: (edited) 已接单: take"


async def test_press_unknown_button_lists_available(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("李师傅")
    await user.start_bot()
    with pytest.raises(LookupError, match="available: 接单 \\| 退回 \\| 说明"):
        await user.press(sandbox.last_message(user.id), "不存在")
    answer = await user.press(sandbox.last_message(user.id), "退")  # unique substring
    assert answer is not None and answer.show_alert


async def test_edit_not_modified(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("赵老师")
    await user.send("hi")
    msg = sandbox.last_message(user.id)
    await app.bot.edit_message_text("hi2", chat_id=user.id, message_id=msg.message_id)
    with pytest.raises(BadRequest, match="not modified"):
        await app.bot.edit_message_text("hi2", chat_id=user.id, message_id=msg.message_id)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    await app.bot.edit_message_reply_markup(user.id, msg.message_id, reply_markup=markup)
    assert msg.buttons == [["A"]] and len(msg.edits) == 2
    assert "message is not modified" in sandbox.rejected[-1][2]


async def test_html_and_reply_keyboard(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("钱老师")
    await user.send("/html")
    msg = sandbox.last_message(user.id)
    assert msg.text == "粗体 & 斜体"
    assert msg.raw_text == "<b>粗体</b> &amp; <i>斜体</i>" and msg.parse_mode == "HTML"
    await user.send("/menu")
    assert sandbox.last_message(user.id).reply_keyboard == [["我要报修", "写日志"]]
    assert sandbox.reply_keyboard(user.id) == [["我要报修", "写日志"]]
    assert sandbox.transcript()[-1] == "后勤通 → 钱老师: 请选择  [键盘: 我要报修 | 写日志]"


async def test_content_limits_rejected(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("孙老师")
    await user.start_bot()
    with pytest.raises(BadRequest, match="too long"):
        await app.bot.send_message(user.id, "x" * 4097)
    await app.bot.send_message(user.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    for bad in ("<b>x", "<br>", "a & b", "<b><i>x</b></i>", '<span class="x">s</span>'):
        with pytest.raises(BadRequest, match="parse entities"):
            await app.bot.send_message(user.id, bad, parse_mode="HTML")
    await app.bot.send_message(user.id, "1 > 0 &lt; &#20320; &quot;", parse_mode="HTML")
    assert sandbox.last_message(user.id).text == '1 > 0 < 你 "'
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await app.bot.send_message(user.id, "ok", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await app.bot.send_photo(user.id, b"\xff\xd8jpeg", caption="c" * 1025)
    with pytest.raises(BadRequest, match="text is empty"):
        await app.bot.send_message(user.id, "<b> </b>", parse_mode="HTML")
    assert len(sandbox.rejected) == 9
    assert all(method in ("sendMessage", "sendPhoto") for method, _, _ in sandbox.rejected)


async def test_handler_gets_bad_request(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("周老师")
    await user.send("y" * 4097)  # the echo handler's reply is too long
    assert isinstance(errors(app)[0], BadRequest)
    assert sandbox.rejected[0][0] == "sendMessage"


async def test_raw_http_validation(sandbox: BotApiSandbox) -> None:
    base = f"{sandbox.base_url}{sandbox.token}"
    async with httpx.AsyncClient() as client:
        res = await client.post(f"{base}/sendMessage", json={"chat_id": 1, "text": "x", "foo": 1})
        assert res.status_code == 400
        assert (
            res.json()["description"]
            == "Bad Request: unknown parameter 'foo' for method sendMessage"
        )
        res = await client.post(f"{base}/sendMessage", data={"text": "x"})
        assert "'chat_id' is required" in res.json()["description"]
        res = await client.post(f"{base}/frobnicate", json={})
        assert res.status_code == 404 and res.json()["ok"] is False
        res = await client.post(
            f"{base}/sendPoll", json={"chat_id": 1, "question": "q", "options": []}
        )
        assert res.json()["description"] == "Bad Request: method not emulated by sandbox"
        res = await client.get(f"{sandbox.base_url}999:WRONG/getMe")
        assert res.status_code == 401 and res.json()["description"] == "Unauthorized"
        res = await client.get(f"{base}/GETME")
        assert res.json()["result"]["username"] == "houqin_bot"
    assert [r[0] for r in sandbox.rejected] == [
        "sendMessage",
        "sendMessage",
        "frobnicate",
        "sendPoll",
    ]


async def test_forbidden_cases(sandbox: BotApiSandbox, app: App) -> None:
    stranger = sandbox.add_user("陌生人")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await app.bot.send_message(stranger.id, "hello")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await app.bot.send_message(42, "hello")
    await stranger.start_bot()
    await stranger.block_bot()
    with pytest.raises(Forbidden, match="blocked by the user"):
        await app.bot.send_message(stranger.id, "hello")
    await stranger.send("我回来了")  # writing again unblocks
    assert sandbox.last_message(stranger.id).text == "我回来了"
    assert app.bot_data["member_changes"] == [
        (stranger.id, "member", "kicked"),
        (stranger.id, "kicked", "member"),
    ]


async def test_fault_injection(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("吴老师")
    await user.start_bot()
    sandbox.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await app.bot.send_message(user.id, "a")
    assert flood.value.retry_after == timedelta(seconds=7)
    sandbox.fail_next("sendMessage", status=500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await app.bot.send_message(user.id, "b")
    await app.bot.send_message(user.id, "c")
    sandbox.fail_next("sendMessage", status=0)
    with pytest.raises(NetworkError):
        await app.bot.send_message(user.id, "d")
    sandbox.fail_next("sendChatAction", status=0, delay=0.3)
    with pytest.raises(TimedOut):
        await app.bot.send_chat_action(user.id, "typing", read_timeout=0.1)
    await sandbox.settle()
    assert [m.text for m in sandbox.messages(user.id, from_bot=True)][-1] == "c"
    assert sandbox.stats["429"] == 1 and sandbox.stats["faults"] == 5


async def test_flood_limits() -> None:
    async with BotApiSandbox(enforce_limits=True) as sandbox:
        user = sandbox.add_user("郑老师")
        await user.start_bot(settle=False)
        bot = Bot(sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url)
        async with bot:
            for i in range(3):
                await bot.send_message(user.id, f"m{i}")
            with pytest.raises(RetryAfter):
                await bot.send_message(user.id, "too fast")
        assert sandbox.stats["429"] == 1


async def test_a_group_takes_its_messages_per_minute_as_telegram_counts() -> None:
    """20 a minute (here 3 in 2 s): past them, retry after the oldest is a "minute" old."""
    async with BotApiSandbox(enforce_limits=True, group_limit=(3, 2.0)) as sandbox:
        boss = sandbox.add_user("张主任")
        group = sandbox.add_group("维修群", members=[boss])
        await sandbox.add_bot_to_group(group, by=boss, settle=False)
        bot = Bot(sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url)
        async with bot:
            started = time.monotonic()
            for i in range(3):
                await bot.send_message(group.id, f"m{i}")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(group.id, "too many")
            assert refused.value.retry_after in (1, 2, timedelta(seconds=1), timedelta(seconds=2))
            await asyncio.sleep(max(0.0, started + 2.05 - time.monotonic()))
            await bot.send_message(group.id, "a minute later")
        assert sandbox.stats["429 group"] == 1
        texts = [m.text for m in sandbox.messages(group.id, from_bot=True)]
        assert texts[-4:] == ["m0", "m1", "m2", "a minute later"]


async def test_groups_and_members(sandbox: BotApiSandbox, app: App) -> None:
    boss = sandbox.add_user("张主任")
    worker = sandbox.add_user("李师傅")
    group = sandbox.add_group("维修群", members=[worker])
    group.add_member(boss, status="creator")
    with pytest.raises(Forbidden, match="not a member"):
        await app.bot.send_message(group.id, "hi")
    await sandbox.add_bot_to_group(group, by=boss, as_admin=True)
    assert app.bot_data["member_changes"] == [(group.id, "left", "administrator")]
    member = await app.bot.get_chat_member(group.id, boss.id)
    assert isinstance(member, ChatMemberOwner)
    assert (await app.bot.get_chat_member(group.id, worker.id)).status == "member"
    assert isinstance(await app.bot.get_chat_member(group.id, app.bot.id), ChatMemberAdministrator)
    admins = await app.bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {boss.id, app.bot.id}
    chat = await app.bot.get_chat(group.id)
    assert chat.title == "维修群" and chat.type == "supergroup"
    await worker.send("/whoami@houqin_bot", chat=group)
    assert sandbox.last_message(group.id).text == f"id={worker.id} chat=supergroup"
    group.remove_member(worker)
    assert (await app.bot.get_chat_member(group.id, worker.id)).status == "left"
    await sandbox.remove_bot_from_group(group, by=boss)
    assert app.bot_data["member_changes"][-1] == (group.id, "administrator", "kicked")
    with pytest.raises(Forbidden, match="kicked from the supergroup chat"):
        await app.bot.send_message(group.id, "hi")
    assert sandbox.transcript()[-2] == "张主任 · 维修群: 张主任 把 后勤通 移出群组"


async def test_photo_download_and_uploads(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("冯老师")
    await user.send_photo(caption="漏水")
    reply = sandbox.last_message(user.id)
    assert reply.text is not None and reply.text.endswith("ffd8")
    sent = await app.bot.send_document(user.id, InputFile(b"a,b\n1,2\n", filename="r.csv"))
    assert sent.document is not None and sent.document.file_name == "r.csv"
    doc = sandbox.last_message(user.id)
    assert doc.document_name == "r.csv" and doc.document_bytes == b"a,b\n1,2\n"
    photo = await app.bot.send_photo(
        user.id, b"\xff\xd8img", caption="<b>图</b>", parse_mode="HTML"
    )
    assert photo.caption == "图"
    file = await app.bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\xff\xd8img"
    await app.bot.edit_message_caption(user.id, photo.message_id, caption="新图")
    assert sandbox.last_message(user.id).caption == "新图"
    album = await app.bot.send_media_group(
        user.id, [InputMediaPhoto(b"\xff\xd81"), InputMediaPhoto(photo.photo[-1].file_id)]
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    assert await app.bot.delete_message(user.id, album[0].message_id)
    assert sandbox.messages(user.id)[-2].deleted
    assert sandbox.transcript()[-1].startswith("后勤通 ✗ 冯老师: (deleted)")


async def test_commands_and_misc(sandbox: BotApiSandbox, app: App) -> None:
    await app.bot.set_my_commands([("report", "报修"), ("log", "写日志")], language_code="zh")
    cmds = await app.bot.get_my_commands(language_code="zh")
    assert [c.command for c in cmds] == ["report", "log"]
    assert sandbox.commands(language_code="zh")[0]["description"] == "报修"
    assert await app.bot.get_my_commands() == ()
    assert await app.bot.delete_my_commands(language_code="zh")
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await app.bot.set_my_commands([("Bad-Cmd", "x")])
    assert await app.bot.set_chat_menu_button()
    info = await app.bot.get_webhook_info()
    assert info.url == ""


async def test_wait_for_message(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("陈老师")
    await user.send("ping", settle=False)
    msg = await sandbox.wait_for_message(user.id, lambda m: m.text == "ping", timeout=3)
    assert msg.from_bot
    with pytest.raises(TimeoutError, match="陈老师: ping"):
        await sandbox.wait_for_message(user.id, timeout=0.1)


async def test_updates_round_trip(sandbox: BotApiSandbox, app: App) -> None:
    boss = sandbox.add_user("张主任", last_name="Z", username="zhang")
    group = sandbox.add_group("后勤群", members=[boss], supergroup=False)
    await boss.start_bot("x")
    await boss.press(sandbox.last_message(boss.id), "接单")
    await boss.send_photo()
    await boss.send_sticker()
    await boss.send_voice()
    await boss.send_document(caption="附件")
    first = sandbox.messages(boss.id)[0]
    await boss.send("回复", reply_to=first)
    await sandbox.add_bot_to_group(group, by=boss)
    await boss.send("/start@houqin_bot", chat=group)
    await sandbox.remove_bot_from_group(group, by=boss, kick=False)
    await boss.block_bot()
    await boss.send("hi")
    kinds = set()
    for data in sandbox.emitted_updates:
        update = Update.de_json(data, app.bot)
        assert update is not None and update.update_id == data["update_id"]
        kind = next(k for k in data if k != "update_id")
        assert getattr(update, kind) is not None
        kinds.add(kind)
        if update.message is not None:
            assert update.message.to_dict()["chat"] == data[kind]["chat"]
    assert kinds == {"message", "callback_query", "my_chat_member"}
    reply = next(m for m in sandbox.messages(boss.id) if m.text == "回复")
    assert reply.reply_to == first.message_id
    for stored in sandbox.messages():
        assert Message.de_json(stored.data, app.bot) is not None
    assert not errors(app)


def test_spec_validate() -> None:
    spec = BotApiSpec.load()
    assert spec is BotApiSpec.load()
    assert spec.validate("SENDMESSAGE", {"chat_id": 1, "text": "x"}) == []
    assert spec.validate("nope", {}) == ["unknown method 'nope'"]
    errs = spec.validate("sendMessage", {"text": "x", "bogus": 1})
    assert errs == [
        "parameter 'chat_id' is required",
        "unknown parameter 'bogus' for method sendMessage",
    ]
    button = {"inline_keyboard": [[{"text": "no action"}]]}
    assert (
        "Text buttons are unallowed"
        in spec.validate("sendMessage", {"chat_id": 1, "text": "x", "reply_markup": button})[0]
    )
    assert html_to_plain("<b>a</b> &amp; <i>b</i>") == "a & b"


async def test_settle_is_fast(sandbox: BotApiSandbox, app: App) -> None:
    user = sandbox.add_user("快")
    started = time.monotonic()
    for i in range(10):
        await user.send(f"m{i}")
    assert time.monotonic() - started < 3
    assert len(sandbox.messages(user.id, from_bot=True)) == 10


async def test_control_api_and_leave_chat(sandbox: BotApiSandbox, app: App) -> None:
    root = sandbox.base_url.removesuffix("/bot")
    async with httpx.AsyncClient() as client:
        res = await client.post(f"{root}/sandbox/send", json={"user": "王老师", "text": "/start"})
        assert res.json()["message_id"] == 1
        await sandbox.settle()
        res = await client.post(f"{root}/sandbox/press", json={"user": "王老师", "button": "接单"})
        assert res.status_code == 200
        await sandbox.settle()
        await client.post(
            f"{root}/sandbox/send", json={"user": "王老师", "text": "hi", "group": "G"}
        )
        await sandbox.settle()
        text = (await client.get(f"{root}/sandbox/transcript")).text
    assert "后勤通 ✎ 王老师: (edited) 已接单: take" in text
    assert "后勤通 → G: hi" in text
    group = next(iter(sandbox.groups.values()))
    assert await app.bot.leave_chat(group.id)
    await sandbox.settle()
    assert app.bot_data["member_changes"][-1] == (group.id, "member", "left")
    with pytest.raises(Forbidden, match="not a member"):
        await app.bot.send_message(group.id, "x")
