"""Where the scheduled jobs come from: a `jobs(services)` function per feature module."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notices.services import Services
    from scheduler.jobs import ScheduledJob

JobSource = Callable[["Services"], list["ScheduledJob"]]


def job_sources() -> Sequence[JobSource]:
    """Every feature's `jobs` function (imported late: they import scheduler.jobs)."""
    from scheduler import appraisal, inspections, tickets, worklogs

    return (tickets.jobs, worklogs.jobs, inspections.jobs, appraisal.jobs)
