"""Key/value JSON state kept for the chat layer (form progress, per-user and per-chat data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import insert_on_conflict
from storage.models import PersistedState

StateKey = tuple[str, str]  # (kind, key)
REMOVED = object()  # in `write`: delete this entry


async def load_kind(session: AsyncSession, kind: str) -> dict[str, Any]:
    """Every stored key of one kind, with its data."""
    rows = await session.exec(select(PersistedState).where(PersistedState.kind == kind))
    return {row.key: row.data for row in rows}


async def write(session: AsyncSession, changes: Mapping[StateKey, Any], *, now: datetime) -> None:
    """Insert or replace each entry (one statement for all), or delete it when it is REMOVED."""
    rows = [
        {"kind": kind, "key": key, "data": data, "updated_at": now}
        for (kind, key), data in changes.items()
        if data is not REMOVED
    ]
    if rows:
        insert = insert_on_conflict(session, PersistedState)
        upsert = insert.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"data": insert.excluded.data, "updated_at": insert.excluded.updated_at},
        )
        await session.exec(upsert, params=rows)
    removed: dict[str, list[str]] = defaultdict(list)
    for (kind, key), data in changes.items():
        if data is REMOVED:
            removed[kind].append(key)
    for kind, keys in removed.items():
        await session.exec(
            delete(PersistedState).where(
                col(PersistedState.kind) == kind, col(PersistedState.key).in_(keys)
            )
        )


async def kinds(session: AsyncSession) -> list[str]:
    """Every kind of stored state."""
    return list((await session.exec(select(PersistedState.kind).distinct())).all())


async def drop_kind(session: AsyncSession, kind: str) -> None:
    """Delete every entry of one kind."""
    await session.exec(delete(PersistedState).where(col(PersistedState.kind) == kind))


async def save(session: AsyncSession, *, kind: str, key: str, data: Any, now: datetime) -> None:
    """Insert or replace one entry."""
    await write(session, {(kind, key): data}, now=now)
