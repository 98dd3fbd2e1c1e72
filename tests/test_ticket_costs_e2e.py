"""End to end: materials, hours and cost on 维修完成, the repair ticket ledger (/export tickets
and `houqin export tickets`), a place's history (/place) and the repeat-fault flag."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli_export import cmd_export_tickets
from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from storage import ticket_costs
from storage.models import Ticket, TicketStatus
from tests import test_tickets_e2e as repairs
from tests.helpers import database_locked, impatient, private_text, said_busy
from tests.test_tickets_e2e import Cast, _card, _last, _quick_report, _ticket

# the repair tests' fixtures: the running bot, English services, the cast of people and groups
bot = repairs.bot
services = repairs.services
cast = repairs.cast

SKIP_COSTS = "⏭ Skip materials and hours"


async def _take_and_finish_note(
    bot: BotApiSandbox, cast: Cast, ticket: Ticket, note: str = "换了阀芯"
) -> None:
    """李师傅 takes the job, presses 维修完成, chooses Fixed and sends a note."""
    plumber = cast.plumber
    await plumber.press(_card(bot, ticket), "Take")
    await plumber.press(_card(bot, ticket), "Repair done")
    await plumber.press(_last(bot, plumber), "Fixed")
    await plumber.send(note)


async def test_completion_with_catalogue_and_typed_materials_shows_the_cost(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    plumber = cast.plumber
    ticket = await _quick_report(services, bot, cast, "教学楼302水龙头一直滴水")
    await _take_and_finish_note(bot, cast, ticket)
    prompt = _last(bot, plumber)
    assert "Materials used?" in prompt.shown_text
    assert ["水龙头 ¥35.00/个", "水龙头阀芯 ¥12.00/个"] in prompt.buttons
    await plumber.send_sticker()
    assert "as text or use the buttons" in private_text(bot, plumber)
    await plumber.press(prompt, "水龙头 ¥35.00/个")
    asked = prompt  # edited in place
    assert "水龙头 (¥35.00/个): how many?" in asked.shown_text
    await plumber.send("两个")  # not a number
    assert "as a number" in private_text(bot, plumber)
    await plumber.send("2")
    listed = _last(bot, plumber)
    assert "水龙头 ×2个 ¥70.00" in listed.shown_text and "Total: ¥70.00" in listed.shown_text
    # the quantity buttons of the step left behind no longer act
    stale = await plumber.press(asked, "3")
    assert stale is not None and "expired" in str(stale.text)
    await plumber.send("水管")  # no cost, not in the catalogue
    assert "could not read" in private_text(bot, plumber)
    await plumber.send("水管 2米 30元")
    listed = _last(bot, plumber)
    assert "水管 ×2米 ¥30.00" in listed.shown_text and "Total: ¥100.00" in listed.shown_text
    await plumber.send("玻璃胶 1")  # a listed material typed: the catalogue's price
    await plumber.press(_last(bot, plumber), "↩️ Remove last")
    assert "玻璃胶" not in _last(bot, plumber).shown_text
    # nothing is stored before the last step
    assert (await _ticket(services, ticket.number)).status == TicketStatus.ACCEPTED
    await plumber.press(_last(bot, plumber), "✅ Done: hours next")
    assert "How many hours" in private_text(bot, plumber)
    await plumber.send("25")  # more than a day
    assert "up to 24" in private_text(bot, plumber)
    async with services.database.reading() as session:
        assert await ticket_costs.lines_of(session, ticket.id or 0) == []
    await plumber.send("1.5小时")
    told = private_text(bot, plumber)
    assert "is done" in told and "Cost ¥100.00" in told and "1.5 h worked" in told

    done = await _ticket(services, ticket.number)
    assert done.status == TicketStatus.AWAITING_ACCEPTANCE and done.hours == Decimal("1.50")
    async with services.database.reading() as session:
        lines = await ticket_costs.lines_of(session, ticket.id or 0)
    assert [(x.name, x.quantity, x.unit, x.unit_price, x.cost, x.material_key) for x in lines] == [
        ("水龙头", Decimal(2), "个", Decimal("35.00"), Decimal("70.00"), "faucet"),
        ("水管", Decimal(2), "米", Decimal("15.00"), Decimal("30.00"), None),
    ]
    card = _card(bot, ticket).shown_text
    assert "Materials: 水龙头 ×2个 ¥70.00; 水管 ×2米 ¥30.00" in card
    assert "Cost ¥100.00" in card and "1.5 h worked" in card
    notice = _last(bot, cast.teacher).shown_text
    assert "repaired by 李师傅" in notice and "Cost ¥100.00" in notice


async def test_ticket_ledger_in_chat_and_on_the_command_line(
    bot: BotApiSandbox,
    services: Services,
    cast: Cast,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plumber, director = cast.plumber, cast.director
    first = await _quick_report(services, bot, cast, "教学楼302水龙头一直滴水")
    await _take_and_finish_note(bot, cast, first)
    await plumber.press(_last(bot, plumber), "LED灯管 ¥18.00/支")
    await plumber.press(_last(bot, plumber), "3")
    await plumber.send("水管接头 ×4 26元")
    await plumber.press(_last(bot, plumber), "✅ Done: hours next")
    await plumber.press(_last(bot, plumber), "2 h")
    clock.advance(timedelta(hours=2))
    await cast.teacher.press(_last(bot, cast.teacher), "Accept")
    await cast.teacher.press(_last(bot, cast.teacher), "★★★★☆")
    clock.advance(timedelta(days=1))
    second = await _quick_report(services, bot, cast, "实验楼3楼女厕灯不亮")
    await _take_and_finish_note(bot, cast, second, "换了开关")
    await plumber.press(_last(bot, plumber), SKIP_COSTS)  # one tap: no materials, no hours
    assert "is done" in private_text(bot, plumber)
    third = await _quick_report(services, bot, cast, "行政楼2楼财务室门锁坏了")

    await cast.teacher.send("/export tickets 2026-11-01 2026-11-30")
    assert "Only the logistics director" in private_text(bot, cast.teacher)
    await director.send("/export what")
    assert "/export tickets 2026-11-01 2026-11-30" in private_text(bot, director)
    await director.send("/export tickets 2026-11-31 2026-11-30")
    assert "Write it as /export tickets" in private_text(bot, director)
    await director.send("/export tickets 2026-11-01 2026-11-30")
    document = _last(bot, director)
    assert document.kind == "document" and document.document_bytes is not None
    assert str(document.document_name).endswith("_2026-11-01_2026-11-30.xlsx")
    assert "3 ticket(s), cost ¥80.00" in document.shown_text
    book = load_workbook(BytesIO(document.document_bytes))
    tickets_sheet, materials_sheet = book.worksheets
    rows = list(tickets_sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Number" and rows[0][-1] == "Cost (yuan)"
    by_number = {row[0]: row for row in rows[1:-1]}
    assert list(by_number) == [first.number, second.number, third.number]
    row = by_number[first.number]
    assert row[1] is not None and row[2] is not None and row[3] is not None
    assert row[4] is not None  # closed on acceptance
    assert row[5:11] == ("王芳", "李师傅", first.place, "水暖", "一般", "Completed")
    assert row[11] == 0 and row[12] == 4
    assert row[13] == "LED灯管 ×3支 ¥54.00\n水管接头 ×4个 ¥26.00"
    assert row[14] == 2 and row[15] == 80
    assert by_number[second.number][14:] == (None, None)
    assert by_number[third.number][10] == "Waiting to be taken"
    assert rows[-1][0] == "Total: 3 ticket(s)" and rows[-1][14:] == (2, 80)
    materials = list(materials_sheet.iter_rows(values_only=True))
    assert [(r[0], r[2], r[3], r[5], r[6]) for r in materials[1:-1]] == [
        (first.number, "LED灯管", 3, 18, 54),
        (first.number, "水管接头", 4, 6.5, 26),
    ]
    assert materials[-1][-1] == 80
    # /export 2026-10 is still the appraisal
    await director.send("/export 2026-10")
    assert "Appraisal" in str(_last(bot, director).document_name) or (
        "2026-10" in str(_last(bot, director).document_name)
    )
    assert bot.rejected == []

    # The same ledger from the command line.
    if services.database.dialect == "sqlite":
        target = Path(services.database.url.split("///", 1)[1]).with_name("tickets.xlsx")
        monkeypatch.setenv("HOUQIN_DATABASE_URL", services.database.url)
        monkeypatch.setenv("HOUQIN_LANGUAGE", "en")
        args = argparse.Namespace(date_from="2026-11-01", date_to="2026-11-30", out=str(target))
        assert await asyncio.to_thread(cmd_export_tickets, args) == 0
        cli_rows = list(load_workbook(target).worksheets[0].iter_rows(values_only=True))
        assert cli_rows == rows


async def test_place_history_and_the_repeat_fault_flag_once(
    bot: BotApiSandbox, services: Services, cast: Cast, clock: ManualClock
) -> None:
    plumber, director, teacher = cast.plumber, cast.director, cast.teacher
    first = await _quick_report(services, bot, cast, "教学楼302水龙头一直滴水")
    await _take_and_finish_note(bot, cast, first)
    await plumber.press(_last(bot, plumber), "水龙头阀芯 ¥12.00/个")
    await plumber.press(_last(bot, plumber), "1")
    await plumber.press(_last(bot, plumber), "✅ Done: hours next")
    await plumber.press(_last(bot, plumber), "0.5 h")
    clock.advance(timedelta(days=3))
    await _quick_report(services, bot, cast, "教学楼302灯不亮")
    director_seen = len(bot.messages(director.private_chat_id, from_bot=True))
    clock.advance(timedelta(days=3))
    # the third fault at the place within 30 days, reported through the form with buttons
    await teacher.send("/report")
    await teacher.press(_last(bot, teacher), "门窗锁")
    await teacher.press(_last(bot, teacher), "本部·教学楼")
    await teacher.press(_last(bot, teacher), "3楼")
    await teacher.press(_last(bot, teacher), "302")
    await teacher.send("门锁坏了，关不上")
    await teacher.press(_last(bot, teacher), "Skip")
    await teacher.press(_last(bot, teacher), "一般")
    await teacher.press(_last(bot, teacher), "Submit")
    said = bot.messages(director.private_chat_id, from_bot=True)[director_seen:]
    flags = [m for m in said if "Repeated faults" in m.shown_text]
    assert len(flags) == 1, [m.shown_text for m in said]
    flag = flags[0].shown_text
    assert "3 in 30 days" in flag and "Repair again, or replace?" in flag
    assert "3 repair ticket(s)" in flag and "水龙头阀芯 ×1个 ¥12.00" in flag
    assert first.number in flag and "李师傅" in flag
    # a fourth fault in the same window is not flagged again
    clock.advance(timedelta(days=1))
    await _quick_report(services, bot, cast, "教学楼3楼302空调不制冷")
    said = bot.messages(director.private_chat_id, from_bot=True)[director_seen:]
    assert len([m for m in said if "Repeated faults" in m.shown_text]) == 1

    # /place, however the place is written
    await director.send("/place 教学楼 302")
    history = private_text(bot, director)
    assert "4 repair ticket(s)" in history
    assert "Cost ¥12.00" in history and "0.5 h worked" in history
    assert history.index("空调") < history.index(first.number)  # newest first
    await director.send("/place 实验楼301")
    assert "No repair ticket at 实验楼301 yet" in private_text(bot, director)
    await teacher.send("/place 教学楼302")
    assert "Only the director and the repair crew" in private_text(bot, teacher)
    # the 📍 button on the card: the history in the presser's private chat
    answer = await plumber.press(_card(bot, first), "📍 Place history")
    assert answer is not None and "private chat" in str(answer.text)
    assert "4 repair ticket(s)" in private_text(bot, plumber)
    refused = await teacher.press(_card(bot, first), "📍 Place history")
    assert refused is not None and "Only the director" in str(refused.text)


async def test_a_restart_in_the_materials_step_resumes_it(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """The materials picked so far are kept in the form's persisted draft: after a restart
    the worker goes on where they were, and nothing was stored before the last step."""
    async with running_bot(services, sandbox) as app:
        cast = await repairs._cast(sandbox, services, app)
        plumber = cast.plumber
        ticket = await _quick_report(services, sandbox, cast, "教学楼302水龙头一直滴水")
        await _take_and_finish_note(sandbox, cast, ticket)
        await plumber.press(_last(sandbox, plumber), "开关面板 ¥12.00/个")
        await plumber.press(_last(sandbox, plumber), "2")
        materials = _last(sandbox, plumber)
        assert "开关面板 ×2个 ¥24.00" in materials.shown_text
    assert (await _ticket(services, ticket.number)).status == TicketStatus.ACCEPTED
    async with running_bot(services, sandbox):
        await plumber.send("插座 1")
        assert "Total: ¥39.00" in private_text(sandbox, plumber)
        await plumber.press(_last(sandbox, plumber), "✅ Done: hours next")
        await plumber.press(_last(sandbox, plumber), "1 h")
        assert "is done" in private_text(sandbox, plumber)
        done = await _ticket(services, ticket.number)
        assert done.status == TicketStatus.AWAITING_ACCEPTANCE and done.hours == Decimal(1)
        assert "Cost ¥39.00" in _card(sandbox, ticket).shown_text
    assert sandbox.rejected == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_completion_is_never_said_done_before_it_is_stored(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """The last step while another writer holds the database: the worker is told it is busy,
    the hours keep their buttons, and the same press completes the job once."""
    services = impatient(services)
    async with running_bot(services, sandbox) as app:
        cast = await repairs._cast(sandbox, services, app)
        plumber = cast.plumber
        ticket = await _quick_report(services, sandbox, cast, "教学楼302水龙头一直滴水")
        await _take_and_finish_note(sandbox, cast, ticket)
        await plumber.press(_last(sandbox, plumber), "插座 ¥15.00/个")
        await plumber.press(_last(sandbox, plumber), "1")
        await plumber.press(_last(sandbox, plumber), "✅ Done: hours next")
        asked = _last(sandbox, plumber)
        with database_locked(services):
            answer = await plumber.press(asked, "1 h")
        assert said_busy(answer) or said_busy(private_text(sandbox, plumber))
        assert "is done" not in private_text(sandbox, plumber)
        assert "1 h" in str(asked.buttons)
        assert (await _ticket(services, ticket.number)).status == TicketStatus.ACCEPTED
        await plumber.press(asked, "1 h")
        assert "is done" in private_text(sandbox, plumber)
        async with services.database.reading() as session:
            assert len(await ticket_costs.lines_of(session, ticket.id or 0)) == 1
        assert (await _ticket(services, ticket.number)).hours == Decimal(1)
    await services.database.dispose()
