"""The appraisal over a year of data: time and SQL queries for a month and for the year.

Inserts a school year of data in bulk (SQLAlchemy core inserts): work logs on ~90% of the
working days of every appraised staff member, 25 repair jobs per staff member and year (50,000
for 2,000 staff: reported, taken, completed, most rated, some sent back for rework) and weekly
and monthly inspection rounds with their inspectors. Then times computing one month
(`storage.appraisal.compute_month`) and the whole year (its twelve months, summarized as the
year summary does) and counts the SQL statements each runs. The same runs with 200 staff, to
show the query count does not grow with the number of people.

The month's figures include the longest the event loop stayed busy at a stretch (SQLite on
the loop's thread runs its queries there: no update is answered meanwhile).

    python -m bench.appraisal [--staff 2000] [--small 200] [--sqlite sqlite+aiosqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert
from sqlmodel import col, select

from bench.common import bench_services, machine_line, peak_rss_mb
from devtools.loop_watch import LoopWatch
from notices.services import Services
from storage import appraisal
from storage.models import (
    InspectionAssignment,
    InspectionRound,
    Person,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    WorkLog,
)
from storage.stats import Month

YEAR = 2026
TODAY = date(YEAR + 1, 1, 6)  # every month of the year is over
TICKETS_PER_STAFF = 25
INSPECTORS_PER_ROUND = 12
CHUNK = 5000


@contextmanager
def counting(services: Services) -> Iterator[list[tuple[str, float]]]:
    """Record every SQL statement the engine runs inside the block, with its duration."""
    statements: list[tuple[str, float]] = []
    started: list[float] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append((statement, time.perf_counter() - started.pop()))

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def slowest(statements: list[tuple[str, float]], count: int = 3) -> str:
    """The slowest statements, shortened, for where the time goes."""
    top = sorted(statements, key=lambda s: -s[1])[:count]
    return "; ".join(
        f"{seconds * 1000:.0f} ms {' '.join(sql.split())[:90]}" for sql, seconds in top
    )


async def insert_rows(services: Services, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows in bulk, CHUNK at a time."""
    for start in range(0, len(rows), CHUNK):
        async with services.database.transaction() as session:
            await session.execute(insert(table), rows[start : start + CHUNK])


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def generate(services: Services, staff: int) -> dict[str, int]:
    """A year of a school with `staff` appraised staff members; returns the row counts."""
    rng = random.Random(staff)
    profile = services.profile
    now = _at(date(YEAR, 1, 1), 8)
    posts = [p.key for p in profile.posts if p.appraised]
    repairers = [p.key for p in profile.posts if p.appraised and p.handles_repairs]
    people = [
        {
            "telegram_id": 10_000_000 + i,
            "name": f"员工{i:05d}",
            "role": Role.STAFF.value,
            "post_key": repairers[i % len(repairers)] if i % 4 == 0 else posts[i % len(posts)],
            "active": True,
            "reachable": True,
            "created_at": now,
        }
        for i in range(staff)
    ]
    people.append(
        {
            "telegram_id": 9_999_999,
            "name": "张主任",
            "role": Role.DIRECTOR.value,
            "post_key": "director",
            "active": True,
            "reachable": True,
            "created_at": now,
        }
    )
    await insert_rows(services, Person, people)
    async with services.database.transaction() as session:
        rows = (await session.exec(select(Person.id, Person.post_key))).all()
    staff_ids = [pid for pid, post in rows if post != "director"]
    repair_ids = [pid for pid, post in rows if post in repairers]

    # Work logs: ~90% of the working days, some filed late.
    days = profile.calendar.working_days(date(YEAR, 1, 1), date(YEAR, 12, 31))
    logs = []
    for pid in staff_ids:
        for day in days:
            if rng.random() < 0.9:
                late = rng.random() < 0.05
                filed = _at(day, 17) + (timedelta(days=1) if late else timedelta(0))
                logs.append(
                    {
                        "person_id": pid,
                        "day": day,
                        "items": ["打扫走廊", "检查门窗"],
                        "photos": [],
                        "hours": 8.0,
                        "late": late,
                        "filed_at": filed,
                        "updated_at": filed,
                    }
                )
    await insert_rows(services, WorkLog, logs)

    # Repair jobs: reported, taken, completed, rated; some reworked.
    tickets: list[dict[str, Any]] = []
    count = staff * TICKETS_PER_STAFF
    for n in range(count):
        day = days[rng.randrange(len(days))]
        created = _at(day, 8 + rng.randrange(9), rng.randrange(60))
        accepted = created + timedelta(minutes=rng.randrange(10, 600))
        completed = accepted + timedelta(hours=rng.randrange(1, 80))
        closed = completed + timedelta(hours=rng.randrange(1, 48))
        tickets.append(
            {
                "number": f"BX-{day:%y%m}-{n:06d}",
                "reporter_telegram_id": 20_000_000 + n % 500,
                "reporter_name": f"教师{n % 500:03d}",
                "category_key": "plumbing",
                "place": "实验楼3楼女厕",
                "description": "水龙头一直滴水",
                "urgency_key": "normal",
                "status": TicketStatus.CLOSED.value,
                "assignee_id": repair_ids[n % len(repair_ids)],
                "source": "report",
                "created_at": created,
                "accept_by": created + timedelta(hours=24),
                "finish_by": created + timedelta(hours=72),
                "accepted_at": accepted,
                "completed_at": completed,
                "closed_at": closed,
                "rating": rng.choice([3, 4, 5, 5, 5]) if rng.random() < 0.8 else None,
                "auto_closed": False,
                "rework_count": 1 if rng.random() < 0.05 else 0,
            }
        )
    await insert_rows(services, Ticket, tickets)
    async with services.database.transaction() as session:
        ids = (await session.exec(select(Ticket.id).order_by(col(Ticket.id)))).all()
    events = []
    for ticket_id, ticket in zip(ids, tickets, strict=True):
        holder = ticket["assignee_id"]
        steps = [
            ("report", None, None, TicketStatus.OPEN, ticket["created_at"]),
            ("take", holder, TicketStatus.OPEN, TicketStatus.ACCEPTED, ticket["accepted_at"]),
            (
                "complete",
                holder,
                TicketStatus.ACCEPTED,
                TicketStatus.AWAITING_ACCEPTANCE,
                ticket["completed_at"],
            ),
        ]
        if ticket["rework_count"]:
            steps.append(
                (
                    "rework",
                    None,
                    TicketStatus.AWAITING_ACCEPTANCE,
                    TicketStatus.REWORK,
                    ticket["completed_at"] + timedelta(hours=1),
                )
            )
        steps.append(
            (
                "accept",
                None,
                TicketStatus.AWAITING_ACCEPTANCE,
                TicketStatus.CLOSED,
                ticket["closed_at"],
            )
        )
        for action, actor, before, after, at in steps:
            events.append(
                {
                    "ticket_id": ticket_id,
                    "actor_id": actor,
                    "action": action,
                    "from_status": before.value if before else None,
                    "to_status": after.value,
                    "at": at,
                }
            )
    await insert_rows(services, TicketEvent, events)

    # Inspection rounds: weekly on Fridays, monthly on the last Friday, with inspectors.
    rounds = []
    for day in days:
        if day.weekday() == 4:
            rounds.append(("weekly", day))
            if (day + timedelta(days=7)).month != day.month:
                rounds.append(("monthly", day))
    await insert_rows(
        services,
        InspectionRound,
        [
            {
                "plan_key": plan,
                "occurrence": _at(day, 14),
                "opened_at": _at(day, 14),
                "deadline_at": _at(day, 18),
                "status": "closed",
                "completed_at": _at(day, 17),
                "announced_at": _at(day, 17),
            }
            for plan, day in rounds
        ],
    )
    async with services.database.transaction() as session:
        round_rows = (
            await session.exec(select(InspectionRound.id, InspectionRound.deadline_at))
        ).all()
    assignments = []
    for round_id, deadline in round_rows:
        for pid in rng.sample(staff_ids, min(INSPECTORS_PER_ROUND, len(staff_ids))):
            late = rng.random() < 0.1
            missed = rng.random() < 0.05
            assignments.append(
                {
                    "round_id": round_id,
                    "person_id": pid,
                    "started_at": deadline - timedelta(hours=2),
                    "finished_at": None
                    if missed
                    else deadline + (timedelta(hours=1) if late else -timedelta(hours=1)),
                }
            )
    await insert_rows(services, InspectionAssignment, assignments)
    return {
        "staff": len(staff_ids),
        "work logs": len(logs),
        "tickets": len(tickets),
        "ticket events": len(events),
        "inspection rounds": len(rounds),
        "inspection assignments": len(assignments),
    }


async def measure(services: Services) -> dict[str, Any]:
    """Time and count the queries of one month and of the whole year."""
    profile = services.profile
    month = Month(YEAR, 11)
    with counting(services) as statements:
        started = time.perf_counter()
        async with LoopWatch() as watch, services.database.transaction() as session:
            _inputs, result = await appraisal.compute_month(session, month, profile, today=TODAY)
        month_seconds = time.perf_counter() - started
    month_queries = len(statements)
    month_slowest = slowest(statements)
    appraised = len(result.people)

    year = appraisal.Period(YEAR, "year")
    with counting(services) as statements:
        started = time.perf_counter()
        parts = {}
        async with services.database.transaction() as session:
            for each in year.months:
                _inputs, parts[str(each)] = await appraisal.compute_month(
                    session, each, profile, today=TODAY
                )
        summary = appraisal.summarize_months(year, parts, profile.appraisal)
        year_seconds = time.perf_counter() - started
    return {
        "appraised": appraised,
        "month_seconds": month_seconds,
        "month_queries": month_queries,
        "month_loop_busy": watch.longest,
        "month_slowest": month_slowest,
        "year_seconds": year_seconds,
        "year_queries": len(statements),
        "year_people": len(summary.people),
    }


async def run(staff: int, scheme: str) -> tuple[dict[str, int], dict[str, Any], float]:
    async with bench_services(sqlite_scheme=scheme) as services:
        started = time.perf_counter()
        counts = await generate(services, staff)
        generated = time.perf_counter() - started
        figures = await measure(services)
    return counts, figures, generated


async def main(staff: int, small: int, scheme: str) -> int:
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # sqlmodel on execute()
    results = {}
    for size in (staff, small):
        results[size] = await run(size, scheme)
    print(machine_line() + f"; database: {scheme}:///")
    for size, (counts, figures, generated) in results.items():
        rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        print(f"{size} staff: {rows} (inserted in {generated:.1f} s)")
        print(
            f"  month {YEAR}-11: {figures['month_seconds'] * 1000:.0f} ms, "
            f"{figures['month_queries']} SQL queries, {figures['appraised']} people appraised; "
            f"the event loop busy for {figures['month_loop_busy'] * 1000:.0f} ms at a stretch"
        )
        print(f"    slowest queries: {figures['month_slowest']}")
        print(
            f"  year {YEAR} (12 months + summary): {figures['year_seconds']:.2f} s, "
            f"{figures['year_queries']} SQL queries, {figures['year_people']} people"
        )
    big, little = results[staff][1], results[small][1]
    same = (big["month_queries"], big["year_queries"]) == (
        little["month_queries"],
        little["year_queries"],
    )
    print(
        f"queries with {staff} vs {small} staff: month {big['month_queries']} vs "
        f"{little['month_queries']}, year {big['year_queries']} vs {little['year_queries']} "
        f"({'the same' if same else 'DIFFERENT'})"
    )
    print(f"peak memory: {peak_rss_mb():.0f} MB")
    return 0 if same else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument(
        "--sqlite",
        choices=["sqlite", "sqlite+aiosqlite"],
        default="sqlite",
        help="SQLite on the event loop's thread (the default) or on aiosqlite's threads",
    )
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.staff, args.small, args.sqlite)))
