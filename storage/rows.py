"""Adding a row that a unique constraint may refuse (the same row added at the same moment)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

Row = TypeVar("Row", bound=SQLModel)


async def add_if_new(session: AsyncSession, row: SQLModel) -> bool:
    """Add `row` in a savepoint; False when a unique constraint refuses it because its like
    exists already. The caller's transaction goes on either way."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def saved(session: AsyncSession, row: Row) -> Row:
    """Add `row` and flush, so its id is set; the caller's transaction commits it."""
    session.add(row)
    await session.flush()
    return row
