"""The repair desk's numbers (KPIs) for a month: what /stats shows and the monthly repair report
posts. The definitions are the README's "Repair numbers"; the ones the appraisal shares (a job,
in time, 返修, ratings) come from storage.stats and are computed the same way.

`month_kpis` reads a month in a fixed number of queries (`QUERIES`), whatever the number of
tickets; `figures` is the pure arithmetic on what they return. Nothing here knows Telegram;
time comes in as `now`.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import SchoolProfile
from storage import persisted_state
from storage import ticket_flow as flow
from storage.models import PersistedState, Ticket, TicketEvent, TicketMaterial, TicketStatus
from storage.stats import (
    Month,
    TicketStats,
    accepted_in_time,
    job_counts,
    last_completions,
)
from storage.tickets import month_bounds, overdue_at

QUERIES = 6  # what month_kpis runs, whatever the number of tickets


# --- what the queries return -------------------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """A ticket reported in the period, as the report needs it."""

    category: str
    building: str | None
    place: str  # the label shown
    place_key: str  # its identity (storage.place_history.place_key)
    urgency: str
    status: TicketStatus
    accept_by: datetime | None = None
    finish_by: datetime | None = None


@dataclass(frozen=True)
class Finished:
    """A 维修完成 in the period, with its ticket's report time and urgency."""

    ticket_id: int
    at: datetime
    finish_by: datetime | None
    created_at: datetime
    urgency: str


@dataclass(frozen=True)
class Inputs:
    """Everything the figures are made from, for one period."""

    reported: Sequence[Reported] = ()
    # taken or assigned in the period: (urgency, created, accepted, accept_by)
    accepted: Sequence[tuple[str, datetime, datetime, datetime | None]] = ()
    finished: Sequence[Finished] = ()
    reworks: int = 0  # 返修 in the period, every one
    closed: Sequence[tuple[int | None, int]] = ()  # jobs closed: (rating, times sent back)
    costs: Sequence[Decimal] = ()  # materials recorded on 维修完成 in the period


# --- the figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatPlace:
    """A place with two or more tickets in the period."""

    label: str
    count: int


@dataclass(frozen=True)
class RepairKpis:
    """A period's repair numbers (README, "Repair numbers")."""

    start: datetime
    end: datetime
    reported: int
    by_category: tuple[tuple[str, int], ...]  # most first
    by_building: tuple[tuple[str | None, int], ...]  # None: a typed place
    accept_median: dict[str, timedelta]  # by urgency key; an urgency with none is left out
    finish_median: dict[str, timedelta]
    # The school's jobs, taken jobs, 返修 and ratings, counted as the appraisal counts a
    # worker's (storage.stats.TicketStats): jobs finished in the period, each 返修 of it, the
    # ratings of jobs closed in it.
    work: TicketStats
    closed: int  # jobs closed (验收, or accepted automatically) in the period
    first_time_fixed: int  # ... never sent back (返修)
    repeat_places: tuple[RepeatPlace, ...]
    open: int  # of the period's tickets, not finished yet
    overdue: int  # ... and past a limit
    total_cost: Decimal = Decimal(0)  # materials recorded on 维修完成 in the period (元)

    @property
    def jobs(self) -> int:
        return self.work.jobs

    @property
    def jobs_on_time(self) -> int:
        return self.work.jobs_on_time

    @property
    def reworks(self) -> int:
        return self.work.rework

    @property
    def ratings(self) -> tuple[int, ...]:
        return self.work.ratings

    @property
    def accepted_on_time_pct(self) -> float | None:
        return percent(self.work.accepted_on_time, self.work.taken)

    @property
    def is_empty(self) -> bool:
        """Nothing was reported, finished or closed in the period."""
        return not (self.reported or self.jobs or self.closed or self.reworks)

    @property
    def on_time_pct(self) -> float | None:
        return percent(self.jobs_on_time, self.jobs)

    @property
    def first_time_fix_pct(self) -> float | None:
        return percent(self.first_time_fixed, self.closed)

    @property
    def rework_pct(self) -> float | None:
        return percent(self.reworks, self.jobs)

    @property
    def mean_rating(self) -> float | None:
        return statistics.fmean(self.ratings) if self.ratings else None

    @property
    def satisfied_pct(self) -> float | None:
        return percent(sum(1 for r in self.ratings if r >= 4), len(self.ratings))


def percent(part: int, whole: int) -> float | None:
    """part ÷ whole × 100; None when there is nothing to count."""
    return part * 100 / whole if whole else None


def median_by(spans: Iterable[tuple[str, timedelta]]) -> dict[str, timedelta]:
    """The median span per key (the middle one, or the mean of the two middle ones)."""
    grouped: dict[str, list[timedelta]] = defaultdict(list)
    for key, span in spans:
        grouped[key].append(span)
    return {
        key: timedelta(seconds=statistics.median(s.total_seconds() for s in values))
        for key, values in grouped.items()
    }


def _counted(keys: Iterable[str | None]) -> tuple[tuple[str | None, int], ...]:
    """Counts, most first (ties in the order first seen)."""
    return tuple(Counter(keys).most_common())


def repeat_places(reported: Iterable[Reported], top: int) -> tuple[RepeatPlace, ...]:
    """Places (by identity) with at least two tickets, most first, at most `top`; each shown
    by the label of its latest ticket."""
    counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    for ticket in reported:
        counts[ticket.place_key] += 1
        labels[ticket.place_key] = ticket.place
    repeated = [(key, n) for key, n in counts.most_common() if n >= 2]
    return tuple(RepeatPlace(labels[key], n) for key, n in repeated[:top])


def figures(
    inputs: Inputs, *, start: datetime, end: datetime, now: datetime, top_places: int = 5
) -> RepairKpis:
    """The period's numbers from what the queries returned (pure)."""
    completions = [(f.ticket_id, f.at, f.finish_by) for f in inputs.finished]
    jobs, jobs_on_time = job_counts(completions)
    last = last_completions(completions)
    about = {f.ticket_id: f for f in inputs.finished}
    unfinished = [t for t in inputs.reported if t.status in flow.UNFINISHED]
    overdue = sum(1 for t in unfinished if overdue_at(t.status, t.accept_by, t.finish_by, now))
    return RepairKpis(
        start=start,
        end=end,
        reported=len(inputs.reported),
        by_category=tuple((str(k), n) for k, n in _counted(t.category for t in inputs.reported)),
        by_building=_counted(t.building for t in inputs.reported),
        accept_median=median_by((u, taken - created) for u, created, taken, _by in inputs.accepted),
        finish_median=median_by(
            (about[ticket_id].urgency, at - about[ticket_id].created_at)
            for ticket_id, (at, _finish_by) in last.items()
        ),
        work=TicketStats(
            jobs=jobs,
            jobs_on_time=jobs_on_time,
            accepted_on_time=sum(
                1 for _u, _created, taken, by in inputs.accepted if accepted_in_time(taken, by)
            ),
            taken=len(inputs.accepted),
            rework=inputs.reworks,
            ratings=tuple(r for r, _sent_back in inputs.closed if r is not None),
        ),
        closed=len(inputs.closed),
        first_time_fixed=sum(1 for _rating, sent_back in inputs.closed if sent_back == 0),
        repeat_places=repeat_places(inputs.reported, top_places),
        open=len(unfinished),
        overdue=overdue,
        total_cost=sum(inputs.costs, Decimal(0)),
    )


# --- reading a period --------------------------------------------------------------------------


async def read_inputs(session: AsyncSession, start: datetime, end: datetime) -> Inputs:
    """What the figures of [start, end) are made from, in QUERIES queries."""
    reported_rows = await session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types up to 4 columns
            col(Ticket.category_key),
            col(Ticket.building_key),
            col(Ticket.place_key),
            col(Ticket.place),
            col(Ticket.urgency_key),
            col(Ticket.status),
            col(Ticket.accept_by),
            col(Ticket.finish_by),
        )
        .where(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
        .order_by(col(Ticket.created_at), col(Ticket.id))
    )
    reported = [
        Reported(
            category=category,
            building=building,
            place=place,
            place_key=place_key,
            urgency=urgency,
            status=TicketStatus(status),
            accept_by=accept_by,
            finish_by=finish_by,
        )
        for category, building, place_key, place, urgency, status, accept_by, finish_by in (
            reported_rows.all()
        )
    ]
    # Taken or assigned in the period (as the appraisal counts jobs held).
    accepted_rows = await session.exec(
        select(Ticket.urgency_key, Ticket.created_at, Ticket.accepted_at, Ticket.accept_by).where(
            col(Ticket.accepted_at) >= start, col(Ticket.accepted_at) < end
        )
    )
    accepted = [(u, created, at, by) for u, created, at, by in accepted_rows.all() if at]
    finished_rows = await session.exec(
        select(  # type: ignore[call-overload]
            col(TicketEvent.ticket_id),
            col(TicketEvent.at),
            col(Ticket.finish_by),
            col(Ticket.created_at),
            col(Ticket.urgency_key),
        )
        .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
        .where(
            col(TicketEvent.action) == "complete",
            col(TicketEvent.at) >= start,
            col(TicketEvent.at) < end,
        )
    )
    finished = [Finished(*row) for row in finished_rows.all()]
    reworks = await session.exec(
        select(func.count())
        .select_from(TicketEvent)
        .where(
            TicketEvent.action == "rework",
            col(TicketEvent.at) >= start,
            col(TicketEvent.at) < end,
        )
    )
    closed_rows = await session.exec(
        select(Ticket.rating, Ticket.rework_count).where(
            Ticket.status == TicketStatus.CLOSED,
            col(Ticket.closed_at) >= start,
            col(Ticket.closed_at) < end,
        )
    )
    # Money is exact: summed here, not by the database (SQLite keeps it as text).
    costs = await session.exec(
        select(col(TicketMaterial.cost)).where(
            col(TicketMaterial.added_at) >= start, col(TicketMaterial.added_at) < end
        )
    )
    return Inputs(
        reported=reported,
        accepted=accepted,
        finished=finished,
        reworks=int(reworks.one()),
        closed=[(rating, sent_back) for rating, sent_back in closed_rows.all()],
        costs=list(costs.all()),
    )


async def period_kpis(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    profile: SchoolProfile,
    *,
    now: datetime,
) -> RepairKpis:
    """The numbers of [start, end), in QUERIES queries."""
    inputs = await read_inputs(session, start, end)
    return figures(
        inputs, start=start, end=end, now=now, top_places=profile.repair.report.top_places
    )


async def month_kpis(
    session: AsyncSession, month: Month, profile: SchoolProfile, *, now: datetime
) -> RepairKpis:
    """A month's numbers (school time), in QUERIES queries."""
    start, end = month_bounds(month, profile)
    return await period_kpis(session, start, end, profile, now=now)


# --- the monthly report's record -----------------------------------------------------------------

REPORTS = "repair_report"  # persisted_state kind: month -> {"chart_sent": ...}


async def report_record(session: AsyncSession, month: Month) -> dict[str, object] | None:
    """What was recorded when the month's report was queued (None: not yet)."""
    query = select(PersistedState).where(
        PersistedState.kind == REPORTS, PersistedState.key == str(month)
    )
    row = (await session.exec(query)).first()
    return dict(row.data) if row is not None and isinstance(row.data, dict) else None


async def record_report(
    session: AsyncSession, month: Month, data: dict[str, object], *, now: datetime
) -> None:
    """Record (or update) the month's report, in the caller's transaction."""
    await persisted_state.save(session, kind=REPORTS, key=str(month), data=data, now=now)
