"""Frozen appraisal snapshots (one row per published version of a period), and a period's
results computed now: a month live, a quarter or a year from its published months."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.appraisal.inputs import compute_month
from storage.appraisal.results import AppraisalResult, Period, result_from_data
from storage.appraisal.scoring import summarize
from storage.models import AppraisalSnapshot
from storage.rows import add_if_new
from storage.stats import Month

if TYPE_CHECKING:
    from school.profile import AppraisalSettings, SchoolProfile


class AlreadyPublished(Exception):
    """Someone else stored this version of the period first."""


async def latest_snapshot(session: AsyncSession, period: str) -> AppraisalSnapshot | None:
    """The newest version of a period's snapshot."""
    query = (
        select(AppraisalSnapshot)
        .where(AppraisalSnapshot.period == period)
        .order_by(col(AppraisalSnapshot.version).desc())
    )
    return (await session.exec(query)).first()


async def latest_snapshots(
    session: AsyncSession, periods: Sequence[str]
) -> dict[str, AppraisalSnapshot]:
    """The newest published snapshot of each period that has one (one query)."""
    if not periods:
        return {}
    query = (
        select(AppraisalSnapshot)
        .where(
            col(AppraisalSnapshot.period).in_(list(periods)),
            col(AppraisalSnapshot.published_at).is_not(None),
        )
        .order_by(col(AppraisalSnapshot.version))
    )
    found: dict[str, AppraisalSnapshot] = {}
    for snapshot in (await session.exec(query)).all():
        found[snapshot.period] = snapshot
    return found


async def store_snapshot(
    session: AsyncSession,
    *,
    period: Period,
    data: dict[str, Any],
    now: datetime,
    version: int,
) -> AppraisalSnapshot:
    """Store a period's snapshot as ``version`` (published now); AlreadyPublished if taken."""
    snapshot = AppraisalSnapshot(
        period=str(period),
        kind=period.kind,
        version=version,
        data=data,
        computed_at=now,
        published_at=now,
    )
    if not await add_if_new(session, snapshot):
        raise AlreadyPublished(str(period))
    return snapshot


async def update_snapshot_data(
    session: AsyncSession, snapshot_id: int, changes: dict[str, Any]
) -> AppraisalSnapshot | None:
    """Merge ``changes`` into a snapshot's data (e.g. that its chart was posted)."""
    snapshot = await session.get(AppraisalSnapshot, snapshot_id)
    if snapshot is None:
        return None
    snapshot.data = {**snapshot.data, **changes}
    session.add(snapshot)
    return snapshot


async def published_parts(
    session: AsyncSession, months: Sequence[Month]
) -> dict[str, AppraisalResult]:
    """The latest published results of these months (those published), by month."""
    snapshots = await latest_snapshots(session, [str(m) for m in months])
    return {period: result_from_data(s.data["result"]) for period, s in snapshots.items()}


def summarize_months(
    period: Period, months: dict[str, AppraisalResult], settings: AppraisalSettings
) -> AppraisalResult:
    """A quarter (mean of months) or a year (mean of quarters, each a mean of months)."""
    if period.kind == "quarter":
        return summarize(str(period), "quarter", months, settings)
    quarters: dict[str, AppraisalResult] = {}
    for number in range(1, 5):
        quarter = Period(period.year, "quarter", number)
        inside = {str(m): months[str(m)] for m in quarter.months if str(m) in months}
        if inside:
            quarters[str(quarter)] = summarize(str(quarter), "quarter", inside, settings)
    return summarize(str(period), "year", quarters, settings)


async def compute_period(
    session: AsyncSession,
    period: Period,
    profile: SchoolProfile,
    *,
    today: date,
    live_month: Month | None = None,
    upto: Month | None = None,
) -> tuple[dict[str, Any], AppraisalResult]:
    """A period's (inputs, result), computed now.

    A month is gathered live. A quarter or a year averages the published months (up to
    ``upto``); ``live_month``, when given and unpublished, is computed live and included.
    """
    if period.kind == "month":
        inputs, result = await compute_month(session, period.month, profile, today=today)
        return inputs.to_data(), result
    months = [m for m in period.months if upto is None or m <= upto]
    parts = await published_parts(session, months)
    if live_month is not None and live_month in months and str(live_month) not in parts:
        _inputs, parts[str(live_month)] = await compute_month(
            session, live_month, profile, today=today
        )
    result = summarize_months(period, parts, profile.appraisal)
    return {"months": sorted(parts)}, result


def snapshot_result(snapshot: AppraisalSnapshot) -> AppraisalResult:
    """The result frozen in a snapshot."""
    return result_from_data(snapshot.data["result"])


async def snapshot_count(session: AsyncSession, period: str) -> int:
    """How many versions of a period exist."""
    query = (
        select(func.count())
        .select_from(AppraisalSnapshot)
        .where(AppraisalSnapshot.period == period)
    )
    return int((await session.exec(query)).one())
