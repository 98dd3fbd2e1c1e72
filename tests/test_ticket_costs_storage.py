"""Materials lines read from typed text, hours, place keys and the repeat-fault rule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from school.clock import ManualClock
from school.profile import SchoolProfile
from storage import place_history as places
from storage import ticket_costs as costs
from storage import tickets
from storage.database import Database
from storage.models import Person, Role, TicketStatus
from storage.ticket_costs import MaterialLine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("水管 2米 30元", ("水管", "2", "米", "15.00", "30.00", None)),
        ("水管2米30块", ("水管", "2", "米", "15.00", "30.00", None)),
        ("电线(2.5平方) 10米 ¥30", ("电线(2.5平方)", "10", "米", "3.00", "30.00", "wire")),
        ("水龙头 2", ("水龙头", "2", "个", "35.00", "70.00", "faucet")),
        ("玻璃胶", ("玻璃胶", "1", "支", "16.00", "16.00", "silicone")),
        ("水管接头 ×4 26元", ("水管接头", "4", "个", "6.50", "26.00", "pipe_fitting")),
        ("胶带 1卷 3.5元", ("胶带", "1", "卷", "3.50", "3.50", None)),
    ],
)
def test_typed_material_lines(profile: SchoolProfile, text: str, expected: tuple) -> None:
    line = costs.parse_line(profile, text)
    assert line is not None, text
    name, quantity, unit, price, cost, key = expected
    assert line == MaterialLine(name, Decimal(quantity), unit, Decimal(price), Decimal(cost), key)
    assert MaterialLine.from_dict(line.as_dict()) == line


@pytest.mark.parametrize("text", ["水管", "2米 30元", "水管 0米 30元", "水管 2米 -3元", ""])
def test_unreadable_material_lines(profile: SchoolProfile, text: str) -> None:
    assert costs.parse_line(profile, text) is None


def test_hours_and_amounts() -> None:
    assert costs.parse_hours("1.5") == Decimal("1.50")
    assert costs.parse_hours("2小时") == Decimal("2.00")
    assert costs.parse_hours("90分钟") == Decimal("1.50")
    assert costs.parse_hours("25") is None and costs.parse_hours("0") is None
    assert costs.parse_hours("1.555") is None and costs.parse_hours("abc") is None
    assert costs.money_text(Decimal("1234.5")) == "¥1,234.50"
    assert costs.quantity_text(Decimal("2.00")) == "2"


def test_one_key_per_place(profile: SchoolProfile) -> None:
    by_buttons = places.place_key("teaching", "3楼", "302", "本部校区 教学楼3楼302")
    assert places.key_of_text(profile, "教学楼302") == by_buttons
    assert places.key_of_text(profile, "教学楼 3楼 302") == by_buttons
    assert places.key_of_text(profile, "主教学楼三楼302") == by_buttons
    assert places.key_of_text(profile, "篮球场 东侧") == places.place_key(
        None, None, None, "篮球场东侧"
    )
    assert places.key_of_text(profile, "教学楼302") != places.key_of_text(profile, "实验楼302")


async def test_repeat_faults_flag_once_per_window(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    async with database.transaction() as session:
        teacher = Person(telegram_id=4, name="王芳", role=Role.TEACHER, created_at=clock.now())
        session.add(teacher)
        await session.flush()

    async def report(room: str = "302") -> list[int]:
        """File one fault at 教学楼3楼{room}; the flags it raised (their fault counts)."""
        async with database.transaction() as session:
            filed = await tickets.create_ticket(
                session,
                tickets.Report(
                    category="plumbing",
                    place=f"教学楼3楼{room}",
                    description="漏水",
                    urgency="normal",
                    building="teaching",
                    floor="3楼",
                    room=room,
                ),
                tickets.Reporter.of(teacher),
                profile=profile,
                now=clock.now(),
            )
            flag = await places.claim_repeat_flag(session, filed, profile=profile, now=clock.now())
            return [flag.faults] if flag else []

    assert await report() == []
    clock.advance(timedelta(days=10))
    assert await report("303") == []  # another room
    assert await report() == []
    clock.advance(timedelta(days=10))
    assert await report() == [3]  # the third within 30 days
    for _ in range(4):  # not again within the window, however many come
        assert await report() == []
    clock.advance(timedelta(days=29))
    assert await report() == []
    clock.advance(timedelta(days=2))  # the window since the flag is over
    assert await report() == []  # 2 new faults within 30 days
    assert await report() == [3]
    # withdrawn and returned tickets are no faults
    clock.advance(timedelta(days=31))
    assert await report() == []
    async with database.transaction() as session:
        found = await places.history(session, places.place_key("teaching", "3楼", "302", ""))
        assert found is not None and found.count == 11
        found.tickets[0].status = TicketStatus.CANCELLED
        session.add(found.tickets[0])
    assert await report() == []
    assert await report() == []
    assert await report() == [3]
