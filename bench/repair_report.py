"""The repair report over a year of tickets: time and SQL queries for 100, 1,000 and all tickets.

Inserts a year of repair tickets in bulk (SQLAlchemy core inserts; 6,000 by default, spread
over the year's days, every category, building and urgency; most taken, finished and rated,
some sent back for rework once or twice, some still open), with their events. Then computes
the report's numbers (`storage.ticket_kpis.period_kpis`, what /stats and the monthly post
run) for the period holding the first 100 tickets, the first 1,000, a month, and all of them,
and counts the SQL statements each runs: the count is the same whatever the number of tickets.

    python -m bench.repair_report [--tickets 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bench.appraisal import counting, insert_rows, slowest
from bench.common import bench_services, machine_line, peak_rss_mb
from notices.services import Services
from storage import ticket_kpis
from storage.models import Person, Role, Ticket, TicketEvent, TicketStatus
from storage.place_history import place_key
from storage.stats import Month
from storage.tickets import month_bounds

YEAR = 2026
NOW = datetime(YEAR + 1, 1, 6, 9, tzinfo=UTC)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def generate(services: Services, count: int) -> dict[str, int]:
    """A year of `count` repair tickets and their events; returns the row counts."""
    rng = random.Random(count)
    profile = services.profile
    await insert_rows(
        services,
        Person,
        [
            {
                "telegram_id": 10_000_000 + i,
                "name": f"师傅{i:02d}",
                "role": Role.STAFF.value,
                "post_key": "repair",
                "active": True,
                "reachable": True,
                "created_at": _at(date(YEAR, 1, 1), 8),
            }
            for i in range(20)
        ],
    )
    async with services.database.reading() as session:
        workers = list((await session.exec(select(Person.id))).all())
    categories = [c.key for c in profile.repair.categories]
    urgencies = [u.key for u in profile.repair.urgencies]
    rooms = [
        (b.key, floor, room, f"{b.name}{floor}楼{room}")
        for _campus, b in profile.buildings()
        for floor, room in ((str(f), f"{f}0{r}") for f in range(1, 4) for r in range(1, 4))
    ]
    first = date(YEAR, 1, 1)
    tickets: list[dict[str, Any]] = []
    plans: list[tuple[int, bool]] = []  # (times sent back, finished)
    for n in range(count):
        created = _at(first + timedelta(days=n * 365 // count), 7 + rng.randrange(12))
        created += timedelta(minutes=rng.randrange(60))
        urgency = rng.choice(urgencies)
        building, floor, room, place = rooms[rng.randrange(len(rooms))]
        typed = rng.random() < 0.1
        accept_by = created + timedelta(hours=1 if urgency == urgencies[0] else 24)
        finish_by = created + timedelta(hours=24 if urgency == urgencies[0] else 72)
        accepted = created + timedelta(minutes=rng.randrange(10, 1500))
        completed = accepted + timedelta(hours=rng.randrange(1, 100))
        fate = rng.random()
        finished = fate > 0.04 or created > _at(date(YEAR, 12, 20), 0)
        sent_back = rng.choice((1, 1, 2)) if rng.random() < 0.08 else 0
        status = (
            TicketStatus.CLOSED
            if finished
            else rng.choice((TicketStatus.OPEN, TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS))
        )
        last_done = completed + timedelta(hours=30 * sent_back)
        tickets.append(
            {
                "number": f"BX-{created:%y%m}-{n:06d}",
                "reporter_telegram_id": 20_000_000 + n % 400,
                "reporter_name": f"教师{n % 400:03d}",
                "category_key": rng.choice(categories),
                "building_key": None if typed else building,
                "floor": None if typed else floor,
                "room": None if typed else room,
                "place": f"操场东侧路灯{n % 7}" if typed else place,
                "place_key": (
                    place_key(None, None, None, f"操场东侧路灯{n % 7}")
                    if typed
                    else place_key(building, floor, room, place)
                ),
                "description": "坏了",
                "urgency_key": urgency,
                "status": status.value,
                "assignee_id": None if status == TicketStatus.OPEN else workers[n % len(workers)],
                "source": "report",
                "created_at": created,
                "accept_by": accept_by,
                "finish_by": finish_by + timedelta(hours=30 * sent_back),
                "accepted_at": None if status == TicketStatus.OPEN else accepted,
                "completed_at": last_done if finished else None,
                "closed_at": last_done + timedelta(hours=5) if finished else None,
                "rating": rng.choice([2, 3, 4, 5, 5, 5]) if finished else None,
                "auto_closed": False,
                "rework_count": sent_back if finished else 0,
            }
        )
        plans.append((sent_back if finished else 0, finished))
    await insert_rows(services, Ticket, tickets)
    async with services.database.reading() as session:
        ids = (await session.exec(select(Ticket.id).order_by(col(Ticket.id)))).all()
    events: list[dict[str, Any]] = []
    for ticket_id, ticket, (sent_back, finished) in zip(ids, tickets, plans, strict=True):
        holder = ticket["assignee_id"]
        steps: list[tuple[str, int | None, datetime]] = [("report", None, ticket["created_at"])]
        if ticket["accepted_at"] is not None:
            steps.append(("take", holder, ticket["accepted_at"]))
        if finished:
            done = ticket["completed_at"] - timedelta(hours=30 * sent_back)
            for _again in range(sent_back):
                steps.append(("complete", holder, done))
                steps.append(("rework", None, done + timedelta(hours=2)))
                done += timedelta(hours=30)
            steps.append(("complete", holder, done))
            steps.append(("accept", None, ticket["closed_at"]))
        events += [
            {"ticket_id": ticket_id, "actor_id": actor, "action": action, "at": at}
            for action, actor, at in steps
        ]
    await insert_rows(services, TicketEvent, events)
    return {"tickets": len(tickets), "ticket events": len(events)}


async def measure(
    services: Services, label: str, start: datetime, end: datetime
) -> tuple[str, int]:
    """One report's time and SQL statements, as a line, and its number of queries."""
    profile = services.profile
    with counting(services) as statements:
        started = time.perf_counter()
        async with services.database.reading() as session:
            kpis = await ticket_kpis.period_kpis(session, start, end, profile, now=NOW)
        seconds = time.perf_counter() - started
    queries = [s for s in statements if s[0].lstrip().upper().startswith("SELECT")]
    return (
        f"  {label}: {kpis.reported:,} tickets reported, {kpis.jobs:,} jobs finished: "
        f"{seconds * 1000:.0f} ms, {len(queries)} SQL queries\n"
        f"    slowest: {slowest(statements, 2)}"
    ), len(queries)


async def main(count: int, database_url: str | None) -> int:
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # sqlmodel on execute()
    async with bench_services(database_url) as services:
        started = time.perf_counter()
        rows = await generate(services, count)
        generated = time.perf_counter() - started
        async with services.database.reading() as session:
            created = list(
                (
                    await session.exec(select(Ticket.created_at).order_by(col(Ticket.created_at)))
                ).all()
            )
        year_start = created[0]
        lines, counts = [], []
        for label, end in (
            ("first 100 tickets", created[99] + timedelta(microseconds=1)),
            ("first 1,000 tickets", created[999] + timedelta(microseconds=1)),
            ("all tickets (the year)", created[-1] + timedelta(seconds=1)),
        ):
            line, queries = await measure(services, label, year_start, end)
            lines.append(line)
            counts.append(queries)
        start, end = month_bounds(Month(YEAR, 11), services.profile)
        line, queries = await measure(services, f"the month {YEAR}-11", start, end)
        lines.append(line)
        counts.append(queries)
    print(machine_line())
    print(", ".join(f"{k} {v:,}" for k, v in rows.items()) + f" (inserted in {generated:.1f} s)")
    print("\n".join(lines))
    same = len(set(counts)) == 1
    print(f"queries: {' / '.join(map(str, counts))} ({'the same' if same else 'DIFFERENT'})")
    print(f"peak memory: {peak_rss_mb():.0f} MB")
    return 0 if same else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=6000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.tickets, args.database_url)))
