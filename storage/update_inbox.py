"""The update inbox of workers that share one PostgreSQL database (HOUQIN_SCALE_OUT).

A worker that receives an update from the webhook writes it here, keyed by Telegram's
`update_id`, before it answers Telegram: an update sent twice (Telegram retries what it did not
see answered) is taken once, and an update a killed worker had taken is still here for another.
Each person's updates are then handled in `update_id` order by whichever worker holds that
person's lock (a PostgreSQL advisory lock, held on one connection for as long as that worker
works through the person's updates, and released by the server if the worker dies).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel, col, delete, select, update

from storage.types import AwareDateTime

# Advisory-lock keys are 64-bit; a person's is a hash of this prefix and their key, so it
# shares no key with other advisory locks of the product (e.g. the leader's).
PERSON_LOCK = "houqin:person:"
KEEP_HANDLED = timedelta(days=1)  # handled updates are kept this long, to know a resend


class InboxUpdate(SQLModel, table=True):
    """An update a worker took from the webhook, until some worker has handled it."""

    __tablename__ = "update_inbox"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    person_key: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_type=AwareDateTime)
    handled_at: datetime | None = Field(default=None, sa_type=AwareDateTime, index=True)


async def receive(
    connection: AsyncConnection,
    *,
    update_id: int,
    person_key: int,
    data: dict[str, Any],
    now: datetime,
) -> bool:
    """Keep an update; False if it was received before (Telegram sent it again)."""
    insert = (
        postgresql.insert(InboxUpdate)
        .values(update_id=update_id, person_key=person_key, data=data, received_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    result = await connection.execute(insert)
    return bool(result.rowcount)


async def next_waiting(connection: AsyncConnection, person_key: int) -> InboxUpdate | None:
    """The person's first update not handled yet (lowest update_id)."""
    query = (
        select(InboxUpdate)
        .where(InboxUpdate.person_key == person_key, col(InboxUpdate.handled_at).is_(None))
        .order_by(col(InboxUpdate.update_id))
        .limit(1)
    )
    row = (await connection.execute(query)).first()
    return None if row is None else InboxUpdate.model_validate(row._mapping)


async def mark_handled(connection: AsyncConnection, update_id: int, *, now: datetime) -> None:
    """The update was handled (its effects are committed)."""
    await connection.execute(
        update(InboxUpdate).where(col(InboxUpdate.update_id) == update_id).values(handled_at=now)
    )


async def waiting_people(
    connection: AsyncConnection, *, received_before: datetime, limit: int = 500
) -> list[int]:
    """People with updates received before `received_before` and not handled yet (their
    worker died or stopped, or is still busy with an earlier update)."""
    query = (
        select(InboxUpdate.person_key)
        .where(
            col(InboxUpdate.handled_at).is_(None),
            col(InboxUpdate.received_at) < received_before,
        )
        .distinct()
        .limit(limit)
    )
    return [int(key) for key in (await connection.execute(query)).scalars()]


async def forget_handled(connection: AsyncConnection, *, handled_before: datetime) -> int:
    """Delete updates handled before `handled_before` (kept a while to recognise a resend)."""
    result = await connection.execute(
        delete(InboxUpdate).where(col(InboxUpdate.handled_at) < handled_before)
    )
    return int(result.rowcount or 0)


async def try_person_lock(connection: AsyncConnection, person_key: int) -> bool:
    """Take the person's lock on this connection unless another connection holds it. It is
    held until `release_person_lock` or until the connection closes."""
    result = await connection.execute(
        text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"),
        {"name": f"{PERSON_LOCK}{person_key}"},
    )
    return bool(result.scalar())


async def release_person_lock(connection: AsyncConnection, person_key: int) -> None:
    """Let go of the person's lock taken on this connection."""
    await connection.execute(
        text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"),
        {"name": f"{PERSON_LOCK}{person_key}"},
    )
