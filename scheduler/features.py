"""Where the scheduled jobs come from: a `jobs(services)` function per feature module."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from notices.services import Services
from scheduler import (
    appraisal,
    bookings,
    inspections,
    meters,
    plans,
    repair_report,
    tickets,
    worklogs,
)
from scheduler.job import ScheduledJob

JobSource = Callable[[Services], list[ScheduledJob]]


def job_sources() -> Sequence[JobSource]:
    """Every feature's `jobs` function."""
    return (
        tickets.jobs,
        worklogs.jobs,
        inspections.jobs,
        appraisal.jobs,
        repair_report.jobs,
        meters.jobs,
        plans.jobs,
        bookings.jobs,
    )
