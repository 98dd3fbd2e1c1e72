"""Key/value JSON state kept for the chat layer (form progress, per-user and per-chat data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlmodel import col, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PersistedState

StateKey = tuple[str, str]  # (kind, key)
REMOVED = object()  # in `write`: delete this entry


async def load_kind(session: AsyncSession, kind: str) -> dict[str, Any]:
    """Every stored key of one kind, with its data."""
    rows = await session.exec(select(PersistedState).where(PersistedState.kind == kind))
    return {row.key: row.data for row in rows}


async def load_entries(
    connection: AsyncConnection, entries: Collection[StateKey]
) -> dict[StateKey, Any]:
    """The stored data of these entries (those not stored are left out), in one query."""
    if not entries:
        return {}
    query = select(PersistedState).where(
        or_(
            *(
                (col(PersistedState.kind) == kind) & (col(PersistedState.key) == key)
                for kind, key in entries
            )
        )
    )
    rows = (await connection.execute(query)).mappings()
    return {(row["kind"], row["key"]): row["data"] for row in rows}


@cache
def _upsert(dialect: str) -> Insert:
    """INSERT … ON CONFLICT (kind, key) DO UPDATE, built once per dialect (both have it)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PersistedState)
    return insert.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"data": insert.excluded.data, "updated_at": insert.excluded.updated_at},
    )


async def write(
    session: AsyncSession | AsyncConnection, changes: Mapping[StateKey, Any], *, now: datetime
) -> None:
    """Insert or replace each entry (one statement for all), or delete it when it is REMOVED.

    Runs in an ORM session, or straight on a connection (the persistence's write after each
    update: no session to set up and tear down).
    """
    rows = [
        {"kind": kind, "key": key, "data": data, "updated_at": now}
        for (kind, key), data in changes.items()
        if data is not REMOVED
    ]
    statements: list[tuple[Any, list[dict[str, Any]] | None]] = []
    if rows:
        dialect = session.get_bind().dialect.name if isinstance(session, AsyncSession) else None
        if dialect is None:
            assert isinstance(session, AsyncConnection)
            dialect = session.dialect.name
        statements.append((_upsert(dialect), rows))
    removed: dict[str, list[str]] = defaultdict(list)
    for (kind, key), data in changes.items():
        if data is REMOVED:
            removed[kind].append(key)
    for kind, keys in removed.items():
        gone = delete(PersistedState).where(
            col(PersistedState.kind) == kind, col(PersistedState.key).in_(keys)
        )
        statements.append((gone, None))
    for statement, params in statements:
        if isinstance(session, AsyncSession):
            await session.exec(statement, params=params)
        else:
            await session.execute(statement, params)


async def kinds(session: AsyncSession) -> list[str]:
    """Every kind of stored state."""
    return list((await session.exec(select(PersistedState.kind).distinct())).all())


async def drop_kind(session: AsyncSession, kind: str) -> None:
    """Delete every entry of one kind."""
    await session.exec(delete(PersistedState).where(col(PersistedState.kind) == kind))


async def save(session: AsyncSession, *, kind: str, key: str, data: Any, now: datetime) -> None:
    """Insert or replace one entry."""
    await write(session, {(kind, key): data}, now=now)
