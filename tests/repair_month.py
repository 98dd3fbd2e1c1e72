"""A seeded month of repairs (November 2026) whose numbers are worked out by hand in
tests/test_ticket_kpis.py: ten tickets written as rows, with the events the KPIs read."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import select

from storage.database import Database
from storage.models import Person, Role, Ticket, TicketEvent, TicketMaterial, TicketStatus
from storage.place_history import place_key
from tests.conftest import SCHOOL_TZ

LAB_WC = {"building_key": "lab", "floor": "3", "room": "女厕", "place": "实验楼3楼女厕"}
ROOM_201 = {"building_key": "teaching", "floor": "2", "room": "201", "place": "教学楼2楼201"}
ROOM_101 = {"building_key": "teaching", "floor": "1", "room": "101", "place": "教学楼1楼101"}
OFFICE = {"building_key": "office", "floor": None, "room": None, "place": "行政楼"}
# typed places: the same place however the spaces fall
LAMP = {"building_key": None, "floor": None, "room": None, "place": "操场东侧路灯"}
LAMP_AGAIN = {"building_key": None, "floor": None, "room": None, "place": "操场东侧 路灯"}


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SCHOOL_TZ)


NOW = at(12, 1, 9, 30)  # when the report is made: 1 December 09:30

# Materials recorded on 维修完成, by the ticket's position in the month (T1 = 0): (name,
# quantity, unit price, when). T1's second line is dated 1 December: not in November's cost.
MATERIALS: dict[int, list[tuple[str, str, str, datetime]]] = {
    0: [("水龙头", "1", "35.00", at(11, 2, 12)), ("玻璃胶", "1", "12.50", at(12, 1, 8))],
    1: [("水管接头", "3", "6.50", at(11, 3, 8)), ("软管", "1", "18.00", at(11, 4, 8))],
}


async def worker(database: Database, telegram_id: int = 7001) -> int:
    """李师傅, who does every job of the month."""
    async with database.transaction() as session:
        person = Person(
            telegram_id=telegram_id,
            name="李师傅",
            role=Role.STAFF,
            post_key="electrician",
            created_at=at(9, 1),
        )
        session.add(person)
        await session.flush()
        assert person.id is not None
        return person.id


def _tickets(holder: int) -> list[tuple[dict[str, Any], list[tuple[str, datetime]]]]:
    """(ticket columns, [(event action, at)]) of the month; comments say what each tests."""
    return [
        # T1 urgent, lab WC: accepted in 20 min, finished in 4 h (in time), closed 5★
        (
            LAB_WC
            | dict(category_key="plumbing", urgency_key="urgent", status=TicketStatus.CLOSED)
            | dict(created_at=at(11, 2, 8), accepted_at=at(11, 2, 8, 20))
            | dict(accept_by=at(11, 2, 8, 30), finish_by=at(11, 3, 8))
            | dict(completed_at=at(11, 2, 12), closed_at=at(11, 2, 14), rating=5),
            [("complete", at(11, 2, 12))],
        ),
        # T2 normal, lab WC again: accepted in 2 h; done at 24 h, sent back once, done again at
        # 48 h (by the new limit: in time); closed 3★
        (
            LAB_WC
            | dict(category_key="plumbing", urgency_key="normal", status=TicketStatus.CLOSED)
            | dict(created_at=at(11, 5, 9), accepted_at=at(11, 5, 11))
            | dict(accept_by=at(11, 6, 9), finish_by=at(11, 9, 10), rework_count=1)
            | dict(completed_at=at(11, 7, 9), closed_at=at(11, 7, 12), rating=3),
            [
                ("complete", at(11, 6, 9)),
                ("rework", at(11, 6, 10)),
                ("complete", at(11, 7, 9)),
            ],
        ),
        # T3 normal, room 201: accepted in 6 h, finished after 144 h (late), closed 4★
        (
            ROOM_201
            | dict(category_key="electric", urgency_key="normal", status=TicketStatus.CLOSED)
            | dict(created_at=at(11, 10, 8), accepted_at=at(11, 10, 14))
            | dict(accept_by=at(11, 11, 8), finish_by=at(11, 13, 8))
            | dict(completed_at=at(11, 16, 8), closed_at=at(11, 16, 10), rating=4),
            [("complete", at(11, 16, 8))],
        ),
        # T4 urgent, a typed place: accepted in 40 min, finished in 12 h (in time), awaiting
        # acceptance (finished, so not open; not closed)
        (
            LAMP
            | dict(category_key="electric", urgency_key="urgent")
            | dict(status=TicketStatus.AWAITING_ACCEPTANCE)
            | dict(created_at=at(11, 12, 20), accepted_at=at(11, 12, 20, 40))
            | dict(accept_by=at(11, 12, 20, 30), finish_by=at(11, 13, 20))
            | dict(completed_at=at(11, 13, 8)),
            [("complete", at(11, 13, 8))],
        ),
        # T5 normal, lab WC a third time: accepted in 1 h, still held past its limit: overdue
        (
            LAB_WC
            | dict(category_key="doors", urgency_key="normal", status=TicketStatus.ACCEPTED)
            | dict(created_at=at(11, 20, 9), accepted_at=at(11, 20, 10))
            | dict(accept_by=at(11, 21, 9), finish_by=at(11, 25, 9)),
            [],
        ),
        # T6 normal, the lamp typed again: nobody took it by its limit: open and overdue
        (
            LAMP_AGAIN
            | dict(category_key="doors", urgency_key="normal", status=TicketStatus.OPEN)
            | dict(created_at=at(11, 25, 9), accept_by=at(11, 26, 9), finish_by=at(11, 30, 9))
            | dict(assignee_id=None),
            [],
        ),
        # T7 by appointment, room 201 again: open, no limit, not overdue
        (
            ROOM_201
            | dict(category_key="furniture", urgency_key="scheduled", status=TicketStatus.OPEN)
            | dict(created_at=at(11, 28, 10), assignee_id=None),
            [],
        ),
        # T8 cancelled by the reporter: reported, neither open nor a job
        (
            OFFICE
            | dict(category_key="plumbing", urgency_key="normal", status=TicketStatus.CANCELLED)
            | dict(created_at=at(11, 15, 9), closed_at=at(11, 15, 10), assignee_id=None),
            [],
        ),
        # T9 reported in October: finished on 3 November, sent back, finished on 4 November,
        # sent back again, finished on 5 November (192 h after the report; in time by the limit
        # the second 返修 set); closed 2★. One job, two reworks.
        (
            ROOM_101
            | dict(category_key="hvac", urgency_key="normal", status=TicketStatus.CLOSED)
            | dict(created_at=at(10, 28, 9), accepted_at=at(10, 28, 10))
            | dict(accept_by=at(10, 29, 9), finish_by=at(11, 7, 12), rework_count=2)
            | dict(completed_at=at(11, 5, 9), closed_at=at(11, 5, 15), rating=2),
            [
                ("complete", at(11, 3, 9)),
                ("rework", at(11, 3, 12)),
                ("complete", at(11, 4, 9)),
                ("rework", at(11, 4, 12)),
                ("complete", at(11, 5, 9)),
            ],
        ),
        # T10 reported on 1 December: not November's
        (
            ROOM_101
            | dict(category_key="hvac", urgency_key="normal", status=TicketStatus.OPEN)
            | dict(created_at=at(12, 1, 8), accept_by=at(12, 2, 8), assignee_id=None),
            [],
        ),
    ]


async def seed_november(database: Database, holder: int, *, extra: int = 0) -> None:
    """The month above, plus `extra` more tickets (for the query count) at another place."""
    rows = _tickets(holder)
    for n in range(extra):
        rows.append(
            (
                OFFICE
                | dict(category_key="plumbing", urgency_key="normal", status=TicketStatus.CLOSED)
                | dict(created_at=at(11, 3, 9) + timedelta(minutes=n))
                | dict(accepted_at=at(11, 3, 10), completed_at=at(11, 3, 12))
                | dict(closed_at=at(11, 3, 15), rating=5, finish_by=at(11, 6, 9)),
                [("complete", at(11, 3, 12)), ("rework", at(11, 3, 13))],
            )
        )
    async with database.transaction() as session:
        count = len((await session.exec(select(Ticket.id))).all())
        for index, (columns, events) in enumerate(rows, start=count + 1):
            values = {"assignee_id": holder} | columns
            ticket = Ticket(
                number=f"BX-TEST-{index:04d}",
                reporter_telegram_id=9000 + index,
                reporter_name="王老师",
                description="坏了",
                **values,
            )
            ticket.place_key = place_key(
                ticket.building_key, ticket.floor, ticket.room, ticket.place
            )
            session.add(ticket)
            await session.flush()
            assert ticket.id is not None
            for name, quantity, price, when in MATERIALS.get(index - count - 1, []):
                session.add(
                    TicketMaterial(
                        ticket_id=ticket.id,
                        name=name,
                        quantity=Decimal(quantity),
                        unit_price=Decimal(price),
                        cost=Decimal(quantity) * Decimal(price),
                        added_at=when,
                    )
                )
            session.add(TicketEvent(ticket_id=ticket.id, action="report", at=values["created_at"]))
            for action, when in events:
                actor = holder if action == "complete" else None
                session.add(
                    TicketEvent(ticket_id=ticket.id, actor_id=actor, action=action, at=when)
                )
