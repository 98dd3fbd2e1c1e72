"""Per-person monthly figures each feature provides to the appraisal (one shape, shared).

Each feature computes its figures for everyone at once (a few queries, whatever the number of
people), keyed by person id:

- `storage.worklogs.month_stats(session, month, profile) -> dict[int, LogStats]`
- `storage.tickets.month_stats(session, month, profile) -> dict[int, TicketStats]`
- `storage.inspections.month_stats(session, month, profile) -> dict[int, InspectionStats]`

A person missing from a dict had nothing of that kind that month (the component does not
apply to them and the appraisal leaves it out).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, written 2026-10."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-10' → Month(2026, 10); ValueError otherwise."""
        year, _, month = text.strip().partition("-")
        value = cls(int(year), int(month))
        if not 1 <= value.month <= 12 or not 2000 <= value.year <= 2100:
            raise ValueError(f"not a month: {text!r} (use YYYY-MM)")
        return value

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a day is in."""
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class LogStats:
    """Work logs of one person in one month (expected = working days minus leave, to date)."""

    expected_days: int
    on_time: int
    late: int
    missing: int
    leave_days: int = 0


@dataclass(frozen=True)
class TicketStats:
    """Repair jobs of one worker in one month (by the month they were finished or due).

    A job is one job however often it was sent back (返修) and finished again: it counts once
    in `jobs`, and each 返修 counts in `rework` as a defect of it.
    """

    jobs: int  # distinct jobs they finished (维修完成) this month
    jobs_on_time: int  # ... whose last 维修完成 of the month was by the job's finish_by
    accepted_on_time: int  # taken/assigned before accept_by
    taken: int  # jobs held this month
    rework: int  # 返修 sent back to them this month (every one counts)
    ratings: tuple[int, ...] = ()  # reporters' ratings (1-5) of their jobs closed this month


Completion = tuple[int, datetime, datetime | None]  # (ticket id, 维修完成 at, its finish_by)


def last_completions(
    completions: Iterable[Completion],
) -> dict[int, tuple[datetime, datetime | None]]:
    """Each job's last 维修完成 of the month (when, the ticket's finish_by), by ticket id: a job
    finished again after a 返修 is still one job."""
    last: dict[int, tuple[datetime, datetime | None]] = {}
    for ticket_id, at, finish_by in completions:
        if ticket_id not in last or at > last[ticket_id][0]:
            last[ticket_id] = (at, finish_by)
    return last


def accepted_in_time(accepted_at: datetime, accept_by: datetime | None) -> bool:
    """A job is taken in time when it was taken or assigned by its accept_by (None: no limit)."""
    return accept_by is None or accepted_at <= accept_by


def finished_in_time(at: datetime, finish_by: datetime | None) -> bool:
    """A job is in time when its last 维修完成 is by its finish_by (None: no limit)."""
    return finish_by is None or at <= finish_by


def job_counts(completions: Iterable[Completion]) -> tuple[int, int]:
    """(jobs, jobs on time) from the 维修完成 of a month (one worker's for the appraisal, the
    whole school's for the repair report), each (ticket id, when, the ticket's finish_by): a
    job finished again after a 返修 is still one job, on time when its last 维修完成 is by its
    finish_by (None: no limit)."""
    last = last_completions(completions)
    on_time = sum(1 for at, finish_by in last.values() if finished_in_time(at, finish_by))
    return len(last), on_time


@dataclass(frozen=True)
class InspectionStats:
    """Inspection rounds assigned to one person in one month. A round is theirs done (on time
    or late) only when they marked at least one of its items."""

    assigned: int
    on_time: int
    late: int
    missed: int
    unmarked: int = 0  # completed by others, with no item marked by them: no credit
