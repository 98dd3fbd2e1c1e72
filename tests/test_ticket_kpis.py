"""The repair numbers (storage.ticket_kpis) of a seeded month, against figures worked out by
hand; the query count does not grow with the tickets; the pure arithmetic's properties."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from school.profile import SchoolProfile
from storage import ticket_kpis, tickets
from storage.database import Database
from storage.models import TicketStatus
from storage.place_history import place_key
from storage.stats import Month, job_counts
from storage.ticket_kpis import Finished, Inputs, Reported, figures
from tests.conftest import SCHOOL_TZ
from tests.repair_month import NOW, seed_november, worker

NOVEMBER = Month(2026, 11)
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


@contextmanager
def counting_queries(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)


async def test_the_seeded_month_gives_the_figures_worked_out_by_hand(
    database: Database, profile: SchoolProfile
) -> None:
    holder = await worker(database)
    await seed_november(database, holder)
    async with database.reading() as session:
        kpis = await ticket_kpis.month_kpis(session, NOVEMBER, profile, now=NOW)
        appraisal = await tickets.month_stats(session, NOVEMBER, profile)

    # Reported in November: T1-T8 (T9 was reported in October, T10 in December).
    assert kpis.reported == 8
    # plumbing T1 T2 T8, electric T3 T4, doors T5 T6, furniture T7
    assert kpis.by_category == (("plumbing", 3), ("electric", 2), ("doors", 2), ("furniture", 1))
    # lab T1 T2 T5, teaching T3 T7, typed places T4 T6, office T8
    assert kpis.by_building == (("lab", 3), ("teaching", 2), (None, 2), ("office", 1))

    # Taken in November: urgent T1 20 min, T4 40 min -> median (20 + 40) / 2 = 30 min;
    # normal T2 2 h, T3 6 h, T5 1 h -> median of (1, 2, 6) = 2 h. (T9 was taken in October.)
    assert kpis.accept_median == {"urgent": 30 * MIN, "normal": 2 * H}
    # Taken by accept_by: T1 08:20 <= 08:30, T2, T3, T5 within 24 h; T4 20:40 > 20:30 -> 4 of 5.
    assert (kpis.work.taken, kpis.work.accepted_on_time) == (5, 4)
    assert kpis.accepted_on_time_pct == 80.0
    # Finished in November, report -> last 维修完成: urgent T1 4 h, T4 12 h -> (4 + 12) / 2 = 8 h;
    # normal T2 48 h, T3 144 h, T9 192 h (28 Oct 09:00 -> 5 Nov 09:00) -> median 144 h.
    assert kpis.finish_median == {"urgent": 8 * H, "normal": 144 * H}

    # Jobs finished: T1 T2 T3 T4 T9 = 5 (T2 finished twice and T9 three times: one job each).
    # In time by finish_by: T1, T2 (7 Nov <= 9 Nov), T4, T9 (5 Nov <= 7 Nov); T3 late -> 4 of 5.
    assert (kpis.jobs, kpis.jobs_on_time) == (5, 4)
    assert kpis.on_time_pct == 80.0  # 4 / 5
    # 返修 in November: T2 once, T9 twice = 3; rework = 3 / 5 jobs = 60%.
    assert kpis.reworks == 3
    assert kpis.rework_pct == 60.0
    # Closed in November: T1 T2 T3 T9 (T8 was cancelled, T4 awaits acceptance); never sent
    # back: T1 T3 -> first-time fix 2 / 4 = 50%.
    assert (kpis.closed, kpis.first_time_fixed) == (4, 2)
    assert kpis.first_time_fix_pct == 50.0
    # Ratings 5 3 4 2: mean 14 / 4 = 3.5; 4★ or more: 5 and 4 -> 2 / 4 = 50%.
    assert sorted(kpis.ratings) == [2, 3, 4, 5]
    assert kpis.mean_rating == 3.5
    assert kpis.satisfied_pct == 50.0

    # Same place twice or more: lab WC T1 T2 T5 (3, across categories), room 201 T3 T7 (2),
    # the lamp typed two ways T4 T6 (2); ties in the order first reported.
    assert [(p.label, p.count) for p in kpis.repeat_places] == [
        ("实验楼3楼女厕", 3),
        ("教学楼2楼201", 2),
        ("操场东侧 路灯", 2),
    ]
    # Not finished on 1 December: T5 (held), T6, T7 (open) = 3; overdue: T5 (limit 25 Nov),
    # T6 (not taken by 26 Nov); T7 has no limit -> 2.
    assert (kpis.open, kpis.overdue) == (3, 2)
    # Materials recorded in November: T1 水龙头 35.00; T2 水管接头 3 × 6.50 = 19.50 and 软管
    # 18.00; T1's 玻璃胶 of 1 December does not count: 35 + 19.5 + 18 = 72.50.
    assert kpis.total_cost == Decimal("72.50")

    # The appraisal counts the same jobs, reworks and ratings (one worker did them all).
    mine = appraisal[holder]
    assert (mine.jobs, mine.jobs_on_time, mine.rework) == (kpis.jobs, kpis.jobs_on_time, 3)
    assert sorted(mine.ratings) == sorted(kpis.ratings)


async def test_the_query_count_does_not_grow_with_the_tickets(
    database: Database, profile: SchoolProfile
) -> None:
    holder = await worker(database)
    await seed_november(database, holder)
    with counting_queries(database) as few:
        async with database.reading() as session:
            small = await ticket_kpis.month_kpis(session, NOVEMBER, profile, now=NOW)
    await seed_november(database, holder, extra=60)
    with counting_queries(database) as many:
        async with database.reading() as session:
            large = await ticket_kpis.month_kpis(session, NOVEMBER, profile, now=NOW)
    assert large.reported == 2 * small.reported + 60
    selects = [sql for sql in many if sql.lstrip().upper().startswith("SELECT")]
    assert len(many) == len(few), many
    assert len(selects) == ticket_kpis.QUERIES, selects


# --- the pure arithmetic -------------------------------------------------------------------------

START = datetime(2026, 11, 1, tzinfo=SCHOOL_TZ)
END = datetime(2026, 12, 1, tzinfo=SCHOOL_TZ)
hours = st.integers(min_value=0, max_value=24 * 29)
finished = st.builds(
    Finished,
    ticket_id=st.integers(1, 8),
    at=hours.map(lambda n: START + n * H),
    finish_by=st.none() | hours.map(lambda n: START + n * H),
    created_at=st.just(START - H),
    urgency=st.sampled_from(["urgent", "normal"]),
)
closed = st.tuples(st.none() | st.integers(1, 5), st.integers(0, 3))


@given(st.lists(finished, max_size=30), st.lists(closed, max_size=20), st.integers(0, 10))
def test_jobs_are_the_appraisals_jobs_and_the_shares_stay_in_bounds(
    done: list[Finished], closing: list[tuple[int | None, int]], reworks: int
) -> None:
    kpis = figures(
        Inputs(finished=done, closed=closing, reworks=reworks), start=START, end=END, now=END
    )
    # A job is what the appraisal counts: distinct tickets, in time by their last 维修完成.
    assert (kpis.jobs, kpis.jobs_on_time) == job_counts(
        (f.ticket_id, f.at, f.finish_by) for f in done
    )
    assert kpis.jobs == len({f.ticket_id for f in done})
    for share in (kpis.on_time_pct, kpis.first_time_fix_pct, kpis.satisfied_pct):
        assert share is None or 0 <= share <= 100
    assert kpis.first_time_fix_pct is None or kpis.first_time_fixed <= kpis.closed
    assert (kpis.rework_pct is None) == (kpis.jobs == 0)
    if kpis.ratings:
        assert 1 <= (kpis.mean_rating or 0) <= 5
    # a median lies between the shortest and the longest
    for urgency, median in kpis.finish_median.items():
        spans = [f.at - f.created_at for f in done if f.urgency == urgency]
        assert min(spans) <= median <= max(spans) + H * 24 * 29


@given(
    st.lists(st.sampled_from(["实验楼3楼女厕", "实验楼 3楼女厕", "教学楼201", "操场"]), max_size=12)
)
def test_repeat_places_are_places_with_two_tickets_or_more_most_first(labels: list[str]) -> None:
    reported = [
        Reported(
            category="plumbing",
            building=None,
            place=label,
            place_key=place_key(None, None, None, label),
            urgency="normal",
            status=TicketStatus.CLOSED,
        )
        for label in labels
    ]
    repeated = figures(
        Inputs(reported=reported), start=START, end=END, now=END, top_places=10
    ).repeat_places
    counts = [p.count for p in repeated]
    assert all(n >= 2 for n in counts)
    assert counts == sorted(counts, reverse=True)
    # spaces do not make another place
    same = sum(1 for label in labels if label.replace(" ", "") == "实验楼3楼女厕")
    assert (same >= 2) == any(p.label.replace(" ", "") == "实验楼3楼女厕" for p in repeated)
