"""Key/value JSON state kept for the chat layer (form progress, per-user and per-chat data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PersistedState


async def load_kind(session: AsyncSession, kind: str) -> dict[str, Any]:
    """Every stored key of one kind, with its data."""
    rows = await session.exec(select(PersistedState).where(PersistedState.kind == kind))
    return {row.key: row.data for row in rows}


async def save(session: AsyncSession, *, kind: str, key: str, data: Any, now: datetime) -> None:
    """Insert or replace one entry."""
    query = select(PersistedState).where(PersistedState.kind == kind, PersistedState.key == key)
    row = (await session.exec(query)).first()
    if row is None:
        row = PersistedState(kind=kind, key=key, data=data, updated_at=now)
    row.data = data
    row.updated_at = now
    session.add(row)


async def remove(session: AsyncSession, *, kind: str, key: str) -> None:
    """Delete one entry if present."""
    await session.exec(
        delete(PersistedState).where(
            col(PersistedState.kind) == kind, col(PersistedState.key) == key
        )
    )
