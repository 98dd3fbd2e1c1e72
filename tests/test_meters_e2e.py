"""End to end: meter readings (节约) through the real bot and the sandbox, time moved by the test.

Readings asked on Friday's reading day and entered in one message; a suspicious reading
questioned, not saved blindly; a rise alerting the director, whose one tap files a repair
ticket (once); the monthly energy 通报 with its chart, once across restarts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlmodel import select

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services
from scheduler import jobs as schedule
from school.clock import ManualClock
from storage import meters
from storage.energy_models import EnergyAlert, EnergyReport, MeterReading
from storage.models import Role, Ticket
from tests.conftest import SCHOOL_TZ
from tests.helpers import button_with, register
from tests.helpers import last_private as last
from tests.helpers import press_with as press

FRIDAY_1500 = datetime(2026, 11, 27, 15, 0, tzinfo=SCHOOL_TZ)


@pytest.fixture(autouse=True)
def no_rejected_requests(sandbox: BotApiSandbox) -> Iterator[None]:
    yield
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


@dataclass
class Crew:
    director: SandboxUser
    plumber: SandboxUser
    cook: SandboxUser
    staff_group: SandboxGroup
    repair_group: SandboxGroup


async def crew(sandbox: BotApiSandbox, services: Services) -> Crew:
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    cook = await register(sandbox, services, "王师傅", Role.STAFF, "cook")
    group = sandbox.add_group("后勤群", members=[director, plumber, cook])
    await sandbox.add_bot_to_group(group, by=director)
    await director.send("/bind staff", chat=group)
    repair = sandbox.add_group("维修群", members=[director, plumber])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    return Crew(director, plumber, cook, group, repair)


async def seed(services: Services, day: date, **values: float) -> None:
    """Readings of earlier rounds, as rows."""
    async with services.database.transaction() as session:
        await meters.save(
            session, values, day=day, person_id=None, photo=None, confirmed={}, now=services.now()
        )


async def weekly_history(services: Services) -> None:
    """水表1 (教学楼) uses 10 m³ a day; 电表1 300 kWh a day."""
    for day, water, power in (
        (date(2026, 11, 6), 900.0, 50_000.0),
        (date(2026, 11, 13), 970.0, 52_100.0),
        (date(2026, 11, 20), 1040.0, 54_200.0),
    ):
        await seed(services, day, water_teaching=water, power_teaching=power)


async def run(application: HouqinApp, name: str) -> list[str]:
    return await schedule.run_due(application, names=[name])


async def stored(services: Services, key: str) -> dict[date, float]:
    async with services.database.transaction() as session:
        rows = (await session.exec(select(MeterReading).where(MeterReading.meter_key == key))).all()
    return {r.day: r.value for r in rows}


async def test_readings_asked_on_friday_and_entered_in_one_message(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        await weekly_history(services)
        clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=SCHOOL_TZ))  # Thursday: not a reading day
        await run(application, "meters.ask")
        with pytest.raises(LookupError):
            button_with(last(sandbox, team.plumber), "mtr1:")
        clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=SCHOOL_TZ))  # Friday 08:00
        assert await run(application, "meters.ask") == ["meters.ask"]
        await sandbox.settle()
        asked = last(sandbox, team.plumber)
        assert "水表1" in asked.shown_text and "电表1" in asked.shown_text
        assert "燃气表" not in asked.shown_text  # the cook's meter
        assert "燃气表" in last(sandbox, team.cook).shown_text

        await press(sandbox, team.plumber, asked, "mtr1:20261127")
        prompt = last(sandbox, team.plumber).shown_text
        assert "1040" in prompt  # 水表1's last reading, to read against
        await team.plumber.send_sticker()
        assert "水表1 1234.5" in last(sandbox, team.plumber).shown_text  # how to write them
        await team.plumber.send_photo()  # a photo of the meter first
        await team.plumber.send("水表1 1110 电表1：56300 总水表 20500 鬼表 3")
        assert "鬼表" in last(sandbox, team.plumber).shown_text  # not read: nothing saved
        assert date(2026, 11, 27) not in await stored(services, "water_teaching")
        await team.plumber.send("水表1 1110 电表1：56300 总水表 20500")
        saved = last(sandbox, team.plumber).shown_text
        assert "3" in saved and "70" in saved  # 3 readings; 水表1 used 70 m³ since the 20th
        assert (await stored(services, "water_teaching"))[date(2026, 11, 27)] == 1110
        assert (await stored(services, "power_teaching"))[date(2026, 11, 27)] == 56300
        async with services.database.transaction() as session:
            row = (
                await session.exec(
                    select(MeterReading).where(MeterReading.meter_key == "water_main")
                )
            ).one()
        assert row.photo_file_id is not None
        # Normal use: the director hears nothing.
        assert "mtl1:" not in str(last(sandbox, team.director).inline_keyboard)


async def test_a_suspicious_reading_is_questioned_not_saved_blindly(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        team = await crew(sandbox, services)
        await weekly_history(services)
        clock.set(FRIDAY_1500)
        await team.plumber.send("/readings")
        await team.plumber.send("水表1 940")  # lower than 1040
        question = last(sandbox, team.plumber)
        assert "940" in question.shown_text and "1040" in question.shown_text
        assert date(2026, 11, 27) not in await stored(services, "water_teaching")
        await press(sandbox, team.plumber, question, "mtq1:redo")
        await team.plumber.send("水表1 10400")  # an extra digit: ~1300 m³ a day
        question = last(sandbox, team.plumber)
        assert "10400" in question.shown_text
        assert date(2026, 11, 27) not in await stored(services, "water_teaching")
    async with running_bot(services, sandbox):  # a restart: the question still stands
        await press(sandbox, team.plumber, question, "mtq1:redo")
        await team.plumber.send("水表1 1104")
        assert "1104" in last(sandbox, team.plumber).shown_text
        assert (await stored(services, "water_teaching"))[date(2026, 11, 27)] == 1104
        # A value the reader confirms is kept, marked as confirmed.
        await team.plumber.send("/readings")
        await team.plumber.send("电表1 50000")
        await press(sandbox, team.plumber, last(sandbox, team.plumber), "mtq1:ok")
        assert (await stored(services, "power_teaching"))[date(2026, 11, 27)] == 50000
        async with services.database.transaction() as session:
            alerts = (await session.exec(select(EnergyAlert))).all()
        assert alerts == []
        # A huge use the reader confirms is real: the director hears of it.
        await team.plumber.send("/readings")
        await team.plumber.send("水表1 10400")
        await press(sandbox, team.plumber, last(sandbox, team.plumber), "mtq1:ok")
        assert (await stored(services, "water_teaching"))[date(2026, 11, 27)] == 10400
        await sandbox.settle()
        assert button_with(last(sandbox, team.director), "mtl1:")


async def test_a_rise_alerts_the_director_whose_one_tap_files_a_repair_ticket(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox):
        team = await crew(sandbox, services)
        deputy = await register(sandbox, services, "刘校长", Role.DIRECTOR)
        await weekly_history(services)
        clock.set(FRIDAY_1500)
        await team.plumber.send("/readings")
        await team.plumber.send("水表1 1180")  # 20 m³ a day instead of 10: +100%
        assert "1180" in last(sandbox, team.plumber).shown_text
        await sandbox.settle()
        alert = last(sandbox, team.director)
        assert "水表1" in alert.shown_text and "100%" in alert.shown_text
        await press(sandbox, team.director, alert, "mtl1:")
        async with services.database.transaction() as session:
            (ticket,) = (await session.exec(select(Ticket))).all()
            (stored_alert,) = (await session.exec(select(EnergyAlert))).all()
        assert stored_alert.ticket_id == ticket.id and ticket.building_key == "teaching"
        assert ticket.category_key == "plumbing" and "水表1" in ticket.description
        assert ticket.number in last(sandbox, team.director).shown_text
        await sandbox.settle()
        card = sandbox.last_message(team.repair_group.id)
        assert ticket.number in card.shown_text
        # The second director's copy of the alert: told it is filed, no second ticket.
        await press(sandbox, deputy, last(sandbox, deputy), "mtl1:")
        assert ticket.number in last(sandbox, deputy).shown_text
        async with services.database.transaction() as session:
            assert len((await session.exec(select(Ticket))).all()) == 1
        # The same reading entered again alerts nobody twice.
        marker = sandbox.mark()
        await team.plumber.send("/readings")
        await team.plumber.send("水表1 1180")
        await sandbox.settle()
        assert [
            m
            for m in sandbox.bot_messages_since(marker)
            if m.chat_id == team.director.private_chat_id
        ] == []


async def test_monthly_report_with_chart_once_across_restarts(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    for day, water, power, gas in (
        (date(2025, 10, 31), 100.0, 10_000.0, 500.0),
        (date(2025, 11, 30), 400.0, 19_000.0, 800.0),
        (date(2026, 9, 30), 5_000.0, 80_000.0, 3_000.0),
        (date(2026, 10, 31), 5_310.0, 89_300.0, 3_310.0),
        (date(2026, 11, 30), 5_700.0, 98_300.0, 3_610.0),
    ):
        await seed(services, day, water_teaching=water, power_teaching=power, gas_canteen=gas)
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SCHOOL_TZ))  # Tuesday 1 December
        marker = sandbox.mark()
        assert await run(application, "meters.report") == ["meters.report"]
        await sandbox.settle()
        posted = [m for m in sandbox.bot_messages_since(marker) if m.chat_id == team.staff_group.id]
        assert [m.kind for m in posted] == ["text", "photo"]
        text = posted[0].shown_text
        assert "2026-11" in text and "教学楼" in text and "食堂" in text
        water_part = text[: text.index("kWh")]
        assert (
            "390 m³" in water_part and "↑26%" in water_part and "↑30%" in water_part
        )  # on Oct / last Nov
        assert "9000 kWh" in text
        assert sandbox.file_content(str(posted[1].photo)).startswith(b"\x89PNG")
    async with running_bot(services, sandbox) as application:  # a restart, the job fires again
        clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=SCHOOL_TZ))
        await run(application, "meters.report")
        await sandbox.settle()
        again = [m for m in sandbox.bot_messages_since(marker) if m.chat_id == team.staff_group.id]
        assert again == posted
        async with services.database.transaction() as session:
            (report,) = (await session.exec(select(EnergyReport))).all()
        assert report.month == "2026-11" and report.chart == "sent"


async def test_a_month_no_reading_covers_is_not_reported(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SCHOOL_TZ))
        marker = sandbox.mark()
        await run(application, "meters.report")
        await sandbox.settle()
        assert [
            m for m in sandbox.bot_messages_since(marker) if m.chat_id == team.staff_group.id
        ] == []
        async with services.database.transaction() as session:
            assert (await session.exec(select(EnergyReport))).all() == []


async def test_energy_ledger_by_building_and_month(services: Services) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from bot.cli import build_parser
    from notices.meters_export import energy_workbook
    from school.i18n import translator

    for day, water, gas in (
        (date(2025, 12, 31), 0.0, 0.0),
        (date(2026, 1, 31), 310.0, 62.0),
        (date(2026, 2, 28), 590.0, 62.0),
        (date(2026, 12, 31), 3_000.0, 400.0),
    ):
        await seed(services, day, water_teaching=water, gas_canteen=gas)
    async with services.database.transaction() as session:
        data, count = await energy_workbook(session, services.profile, 2026, translator("zh_CN"))
    assert count == 6  # 3 days of 2026 × 2 meters
    book = load_workbook(BytesIO(data))
    ledger, summary, readings = book.worksheets
    rows = {(r[0], r[1]): r for r in ledger.iter_rows(min_row=2, values_only=True)}
    water = rows[("教学楼", "水")]
    assert water[2] == "m³" and water[3:5] == (310.0, 280.0) and water[-1] == 3000.0
    assert rows[("食堂", "燃气")][4] == 0.0  # February: no gas used
    per_capita = {r[0]: r[3] for r in summary.iter_rows(min_row=2, values_only=True)}
    assert per_capita["水"] == round(3000 / 1860, 2)
    assert readings.max_row == 1 + count
    args = build_parser().parse_args(["export", "energy", "2026", "--out", "x.xlsx"])
    assert args.year == 2026 and args.out == "x.xlsx"
