"""Post duties (岗位职责) that staff draft themselves and the director approves (自订加审核).

A staff member files a draft; an earlier pending draft is withdrawn. A director approves or
returns it (with a comment) once; the latest approved text is what the log form shows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PostDuties
from storage.rows import saved
from storage.worklogs import is_row_id

MAX_DUTIES_CHARS = 2000


class DutiesStatus(StrEnum):
    """Where a drafted post-duties text stands."""

    PENDING = "pending"
    APPROVED = "approved"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"  # replaced by a newer draft before a decision


async def get_duties(session: AsyncSession, duties_id: int) -> PostDuties | None:
    """A draft by id; None when there is none (a forged id included)."""
    return await session.get(PostDuties, duties_id) if is_row_id(duties_id) else None


async def approved_duties(session: AsyncSession, person_id: int) -> PostDuties | None:
    """The person's latest approved duties text."""
    query = (
        select(PostDuties)
        .where(PostDuties.person_id == person_id, PostDuties.status == DutiesStatus.APPROVED)
        .order_by(col(PostDuties.decided_at).desc(), col(PostDuties.id).desc())
    )
    return (await session.exec(query)).first()


async def latest_duties(session: AsyncSession, person_id: int) -> PostDuties | None:
    """The person's latest draft, whatever its status."""
    query = (
        select(PostDuties)
        .where(PostDuties.person_id == person_id)
        .order_by(col(PostDuties.submitted_at).desc(), col(PostDuties.id).desc())
    )
    return (await session.exec(query)).first()


async def pending_duties(session: AsyncSession) -> list[PostDuties]:
    """Drafts waiting for a director's decision, oldest first."""
    query = (
        select(PostDuties)
        .where(PostDuties.status == DutiesStatus.PENDING)
        .order_by(col(PostDuties.submitted_at), col(PostDuties.id))
    )
    return list((await session.exec(query)).all())


def duties_lines(text: str) -> list[str]:
    """A duties text as its non-empty lines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


async def submit_duties(
    session: AsyncSession, *, person_id: int, text: str, now: datetime
) -> tuple[PostDuties, list[PostDuties]]:
    """File a new draft; an earlier pending draft is withdrawn. Returns (draft, withdrawn)."""
    body = "\n".join(duties_lines(text))
    if not body:
        raise ValueError("empty")
    if len(body) > MAX_DUTIES_CHARS:
        raise ValueError("too long")
    pending = await session.exec(
        select(PostDuties).where(
            PostDuties.person_id == person_id, PostDuties.status == DutiesStatus.PENDING
        )
    )
    withdrawn = list(pending.all())
    for old in withdrawn:
        old.status = DutiesStatus.WITHDRAWN
        old.decided_at = now
        session.add(old)
    draft = PostDuties(person_id=person_id, text=body, submitted_at=now)
    return await saved(session, draft), withdrawn


async def decide_duties(
    session: AsyncSession,
    *,
    duties_id: int,
    approve: bool,
    director_id: int | None,
    comment: str | None,
    now: datetime,
) -> tuple[PostDuties, bool]:
    """Approve or return a pending draft once; returns (draft, changed)."""
    draft = await get_duties(session, duties_id)
    if draft is None:
        raise LookupError(f"no post duties {duties_id}")
    result = await session.exec(
        update(PostDuties)
        .where(col(PostDuties.id) == duties_id, col(PostDuties.status) == DutiesStatus.PENDING)
        .values(
            status=DutiesStatus.APPROVED if approve else DutiesStatus.RETURNED,
            comment=comment[:500] if comment else None,
            decided_at=now,
            decided_by_id=director_id,
        )
    )
    await session.refresh(draft)
    return draft, result.rowcount == 1
