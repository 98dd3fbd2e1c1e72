"""Claims on scheduled occurrences: a job's occurrence runs once, even across restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ScheduledRun


async def claim(session: AsyncSession, *, job: str, occurrence: datetime, now: datetime) -> bool:
    """Claim an occurrence; False if it was claimed before (by an earlier run or process)."""
    existing = await session.exec(
        select(ScheduledRun).where(ScheduledRun.job == job, ScheduledRun.occurrence == occurrence)
    )
    if existing.first() is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(ScheduledRun(job=job, occurrence=occurrence, claimed_at=now))
    except IntegrityError:
        return False
    return True


async def finish(session: AsyncSession, *, job: str, occurrence: datetime, now: datetime) -> None:
    """Record that a claimed occurrence ran to the end."""
    run = (
        await session.exec(
            select(ScheduledRun).where(
                ScheduledRun.job == job, ScheduledRun.occurrence == occurrence
            )
        )
    ).first()
    if run is not None:
        run.finished_at = now
        session.add(run)


async def last_run(session: AsyncSession, job: str) -> ScheduledRun | None:
    """The most recent claimed occurrence of a job."""
    query = (
        select(ScheduledRun).where(ScheduledRun.job == job).order_by(ScheduledRun.occurrence.desc())  # type: ignore[attr-defined]
    )
    return (await session.exec(query)).first()
