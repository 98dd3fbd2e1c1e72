"""End to end: 扫码报修. The director's /stickers PDF (and `houqin stickers`) decoded with a QR
decoder; each code, sent to the real bot as /start <token>, opens the report form already at
its place; the open tickets there come first; a report is filed in 2 taps and 1 message; an
old sticker of a renamed room and a revoked one; a visitor scanning."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main as houqin
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.profile import SchoolProfile
from school.sticker_places import StickerPlace, sticker_places
from storage import stickers
from storage.models import Role, Ticket
from tests.helpers import database_locked, impatient, private_text, register, said_busy
from tests.test_stickers import NOW, decode_links
from tests.test_tickets_e2e import Cast, _card, _last, _ticket, bot, cast, services

__all__ = ["bot", "cast", "services"]  # the fixtures of the ticket tests

LINK = re.compile(r"^https://t\.me/houqin_bot\?start=([A-Za-z0-9_-]{1,64})$")


async def _sticker_links(
    bot: BotApiSandbox, services: Services, cast: Cast, building: str
) -> dict[str, str]:
    """The director's /stickers for a building, decoded: place label -> token."""
    await cast.director.send(f"/stickers {building}")
    sent = _last(bot, cast.director)
    assert sent.kind == "document" and sent.document_bytes is not None
    assert sent.document_name == f"stickers-{building}.pdf"
    assert "QR stickers" in (sent.caption or "")
    tokens = []
    for link in decode_links(sent.document_bytes):
        match = LINK.match(link)
        assert match is not None, link
        tokens.append(match.group(1))
    async with services.database.reading() as session:
        found = [await stickers.find(session, token) for token in tokens]
    labels = {s.label: s.token for s in found if s is not None}
    assert len(labels) == len(tokens)  # every code decoded names a sticker of its own
    return labels


async def _scan(user: SandboxUser, token: str) -> None:
    await user.start_bot(token)


async def test_director_pdf_codes_open_the_form_at_their_place_and_file_in_two_taps(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    teacher = cast.teacher
    codes = await _sticker_links(bot, services, cast, "实验楼")
    room = "本部校区 实验楼4楼计算机教室一"
    assert room in codes and f"{room} 投影仪" in codes
    # every room of the building and every piece of equipment listed there
    assert len(codes) == len(sticker_places(services.profile, building="实验楼"))
    # only the director prints them
    await teacher.send("/stickers")
    assert "director" in private_text(bot, teacher)
    await cast.director.send("/stickers 图书馆")
    assert "There is no building 图书馆" in private_text(bot, cast.director)

    # the scan: the form is already at the room's projector, asking only what is wrong
    await _scan(teacher, codes[f"{room} 投影仪"])
    asked = _last(bot, teacher)
    assert f"📍 {room} 投影仪" in asked.shown_text
    assert "What is wrong here?" in asked.shown_text and not asked.buttons
    taps = messages = 0
    await teacher.send("开机没有画面")
    messages += 1
    photos = _last(bot, teacher)
    assert "Send photos" in photos.shown_text
    await teacher.press(photos, "Skip")
    taps += 1
    urgency = _last(bot, teacher)
    assert "Choosing it files your request" in urgency.shown_text
    await teacher.press(urgency, "一般")
    taps += 1
    assert (taps, messages) == (2, 1)
    confirmed = _last(bot, teacher)
    assert "Your repair request is filed: BX-2611-001" in confirmed.shown_text
    assert f"{room} 投影仪 · 多媒体" in confirmed.shown_text
    ticket = await _ticket(services, "BX-2611-001")
    assert (ticket.building_key, ticket.floor, ticket.room) == ("lab", "4楼", "计算机教室一")
    assert ticket.category_key == "av" and ticket.description == "开机没有画面"
    assert ticket.reporter_name == "王芳"
    assert "开机没有画面" in _card(bot, ticket).shown_text
    assert urgency.edits and "✓ Urgency: 一般" in urgency.shown_text  # its buttons gone

    # the room's own sticker, scanned by a colleague: the open job there comes first
    teacher2 = cast.teacher2
    await _scan(teacher2, codes[room])
    shown = _last(bot, teacher2)
    assert "Already reported here" in shown.shown_text and "BX-2611-001" in shown.shown_text
    await teacher2.press(shown, "Same problem: follow BX-2611-001")  # one tap
    assert "You now follow BX-2611-001" in private_text(bot, teacher2)
    assert await _count_tickets(services) == 1


async def test_a_different_problem_is_just_said_even_with_open_jobs_there(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    teacher, teacher2 = cast.teacher, cast.teacher2
    codes = await _sticker_links(bot, services, cast, "锅炉房")
    await teacher2.send("/report 锅炉房1楼值班室 灯不亮")
    token = codes["本部校区 锅炉房1楼值班室"]
    await _scan(teacher, token)
    assert "BX-2611-001" in private_text(bot, teacher)
    # a voice says what is wrong straight away: a new problem, filed after photo and urgency
    await teacher.send_voice(duration=6)
    await teacher.send_photo()  # a photo instead of "Skip"
    await teacher.press(_last(bot, teacher), "Done")
    await teacher.press(_last(bot, teacher), "紧急")
    assert "filed: BX-2611-002" in private_text(bot, teacher)
    ticket = await _ticket(services, "BX-2611-002")
    assert ticket.place == "本部校区 锅炉房1楼值班室" and ticket.category_key == "other"
    assert ticket.urgency_key == "urgent"


async def test_an_old_sticker_of_a_renamed_room_and_a_revoked_one(
    bot: BotApiSandbox,
    services: Services,
    cast: Cast,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    teacher = cast.teacher
    # printed when room 302 was still called 302室 (the profile has renamed it since)
    old = StickerPlace("teaching", "3楼", "302室", "", "本部校区 教学楼3楼302室")
    async with services.database.transaction() as session:
        [sticker] = await stickers.issue(session, [old], now=NOW)
    await _scan(teacher, sticker.token)
    assert "📍 本部校区 教学楼3楼302室" in private_text(bot, teacher)
    await teacher.send("灯管一闪一闪")
    await teacher.press(_last(bot, teacher), "Skip")
    await teacher.press(_last(bot, teacher), "一般")
    ticket = await _ticket(services, "BX-2611-001")
    assert ticket.place == "本部校区 教学楼3楼302室" and ticket.category_key == "electric"

    # `houqin stickers revoke <token>` on the command line; the sticker then says so
    monkeypatch.setenv("HOUQIN_DATABASE_URL", services.database.url)
    assert await asyncio.to_thread(houqin, ["stickers", "revoke", sticker.token]) == 0
    await _scan(teacher, sticker.token)
    said = private_text(bot, teacher)
    assert "This repair code is no longer in use (本部校区 教学楼3楼302室)" in said
    assert "send /report" in said
    assert await _count_tickets(services) == 1
    # an unknown code too, and nothing opened: /report starts a fresh form
    await _scan(teacher, "qr-doesnotexist")
    assert "This repair code is not valid" in private_text(bot, teacher)
    await teacher.send("/report")
    assert "Choose a category" in private_text(bot, teacher)


async def test_cli_sheets_decode_to_codes_the_bot_opens(
    bot: BotApiSandbox,
    services: Services,
    cast: Cast,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOUQIN_DATABASE_URL", services.database.url)
    out = tmp_path / "stickers.pdf"
    args = ["stickers", "--building", "配电房", "--out", str(out)]
    assert await asyncio.to_thread(houqin, args) == 0
    [link] = decode_links(out.read_bytes())
    match = LINK.match(link)
    assert match is not None
    # printing again gives the same code
    assert await asyncio.to_thread(houqin, args) == 0
    assert decode_links(out.read_bytes()) == [link]
    await _scan(cast.teacher, match.group(1))
    assert "📍 本部校区 配电房" in private_text(bot, cast.teacher)
    assert "What is wrong here?" in private_text(bot, cast.teacher)
    # revoked by place on the command line: the code then says so
    revoke = ["stickers", "revoke", "--place", "配电房"]
    assert await asyncio.to_thread(houqin, revoke) == 0
    assert await asyncio.to_thread(houqin, revoke) == 2  # nothing live there any more
    await _scan(cast.teacher2, match.group(1))
    assert "no longer in use (本部校区 配电房)" in private_text(bot, cast.teacher2)


async def _count_tickets(services: Services) -> int:
    from sqlmodel import func, select

    async with services.database.reading() as session:
        return int((await session.exec(select(func.count()).select_from(Ticket))).one())


# --- visitors ------------------------------------------------------------------------------------


async def test_a_visitor_reports_and_hears_back_in_the_private_chat(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    codes = await _sticker_links(bot, services, cast, "锅炉房")
    visitor = bot.add_user("陈同学")
    await _scan(visitor, codes["本部校区 锅炉房1楼水处理间"])
    assert "What is wrong here?" in private_text(bot, visitor)
    await visitor.send("地上有很多水，水管在滴水")
    await visitor.press(_last(bot, visitor), "Skip")
    await visitor.press(_last(bot, visitor), "一般")
    assert "filed: BX-2611-001" in private_text(bot, visitor)
    ticket = await _ticket(services, "BX-2611-001")
    assert ticket.reporter_id is None and ticket.category_key == "plumbing"
    assert "陈同学 (visitor)" in _card(bot, ticket).shown_text
    # a second visitor at the same sticker joins it with one tap
    other = bot.add_user("林同学")
    await _scan(other, codes["本部校区 锅炉房1楼水处理间"])
    await other.press(_last(bot, other), "Same problem: follow BX-2611-001")
    assert "You now follow BX-2611-001" in private_text(bot, other)
    # the crew's progress reaches both in the chat the scan opened
    await cast.plumber.press(_card(bot, ticket), "Take")
    assert "was taken by 李师傅" in private_text(bot, visitor)
    assert "was taken by 李师傅" in private_text(bot, other)
    # /mytickets shows the visitor their request, though they are not registered
    await visitor.send("/mytickets")
    assert "BX-2611-001" in private_text(bot, visitor)


@pytest.fixture
async def join_bot(
    services: Services, sandbox: BotApiSandbox, profile: SchoolProfile
) -> AsyncIterator[tuple[BotApiSandbox, Services]]:
    """The bot of a school whose profile says visitors = "join"."""
    repair = profile.repair.model_copy(update={"visitors": "join"})
    joining = replace(services, profile=profile.model_copy(update={"repair": repair}))
    async with running_bot(joining, sandbox):
        yield sandbox, joining
    assert sandbox.rejected == []


async def test_a_school_that_asks_visitors_to_join_first(
    join_bot: tuple[BotApiSandbox, Services],
) -> None:
    sandbox, services = join_bot
    place = StickerPlace("boiler", "1楼", "锅炉间", "", "本部校区 锅炉房1楼锅炉间")
    async with services.database.transaction() as session:
        [sticker] = await stickers.issue(session, [place], now=NOW)
    visitor = sandbox.add_user("陈同学")
    await _scan(visitor, sticker.token)
    asked = sandbox.last_message(visitor.private_chat_id)
    assert "本部校区 锅炉房1楼锅炉间" in asked.shown_text and "ask to join" in asked.shown_text
    await visitor.press(asked, "Ask to join as a teacher")
    assert "Your request has been sent" in private_text(sandbox, visitor)
    assert await _count_tickets(services) == 0


# --- reliability -----------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_urgency_tap_files_before_it_says_so_and_a_restart_resumes(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """Scan, say what is wrong, restart the bot: the form resumes at the photo step. The
    urgency pressed while another writer holds the database answers busy and keeps its
    buttons; pressed again it files the report once."""
    services = impatient(services)
    place = StickerPlace("teaching", "3楼", "302", "投影仪", "本部校区 教学楼3楼302 投影仪")
    async with services.database.transaction() as session:
        [sticker] = await stickers.issue(session, [place], now=NOW)
    async with running_bot(services, sandbox):
        teacher = await register(sandbox, services, "王芳", Role.TEACHER, language_code="en")
        await _scan(teacher, sticker.token)
        await teacher.send("投影仪灯泡不亮")
        assert "Send photos" in private_text(sandbox, teacher)
    async with running_bot(services, sandbox):
        await teacher.press(sandbox.last_message(teacher.id), "Skip")
        urgency = sandbox.last_message(teacher.id)
        assert "How urgent" in urgency.shown_text
        with database_locked(services):
            answer = await teacher.press(urgency, "一般")
        assert said_busy(answer)
        assert any("一般" in b for row in urgency.buttons for b in row)
        assert await _count_tickets(services) == 0
        await teacher.press(urgency, "一般")
        assert "filed: BX-2611-001" in private_text(sandbox, teacher)
        assert "✓" in urgency.shown_text and not urgency.buttons
    assert await _count_tickets(services) == 1
    assert sandbox.rejected == []
    await services.database.dispose()
