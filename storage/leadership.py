"""The leader's seat among scale-out workers: a PostgreSQL session-level advisory lock.

Several worker processes share one PostgreSQL database (HOUQIN_SCALE_OUT). One of them, the
leader, runs the schedule and sends the outbox; the lock says which. It is held by a session,
so it is held exactly as long as the leader's dedicated connection (`LeaderSeat`) is open: a
leader that dies (even by SIGKILL) closes its socket, PostgreSQL ends the session and frees the
lock, and the next worker that tries takes it.

The same connection LISTENs on the outbox's channel: a worker that queued notifications wakes
the leader with `wake_sender` (NOTIFY) instead of sending them itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text

from storage.database import Database

log = logging.getLogger(__name__)

# The advisory lock's key: the bytes of "houqin", so that it is recognisable.
LEADER_LOCK = int.from_bytes(b"houqin", "big")
# How pg_locks shows a bigint advisory key: its high and low 32 bits (classid, objid), objsubid 1.
LOCK_HALVES = (LEADER_LOCK >> 32, LEADER_LOCK & 0xFFFFFFFF)
OUTBOX_CHANNEL = "houqin_outbox"
CONNECT_TIMEOUT = 5.0


def _dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL (postgresql+asyncpg://…)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class LeaderSeat:
    """One dedicated connection to PostgreSQL, open for the life of the worker: it takes the
    leader's lock when it is free and listens for notifications queued by other workers."""

    def __init__(self, connection: asyncpg.Connection, on_wake: Callable[[], None]) -> None:
        self._connection = connection
        self._on_wake = on_wake
        self.lost = asyncio.Event()  # the connection closed under us
        connection.add_termination_listener(self._terminated)

    @classmethod
    async def open(cls, url: str, *, on_wake: Callable[[], None]) -> LeaderSeat:
        """Connect and LISTEN on the outbox's channel; `on_wake()` runs on each NOTIFY."""
        connection = await asyncpg.connect(_dsn(url), timeout=CONNECT_TIMEOUT)
        seat = cls(connection, on_wake)
        try:
            await connection.add_listener(OUTBOX_CHANNEL, seat._notified)
        except BaseException:
            await seat.close()
            raise
        return seat

    def _notified(self, *_args: Any) -> None:
        self._on_wake()

    def _terminated(self, *_args: Any) -> None:
        self.lost.set()

    async def take(self) -> bool:
        """Take the leader's lock if no one holds it (never waits); True if this session holds
        it now."""
        return bool(await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK))

    async def alive(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the connection still answers within `timeout` seconds."""
        if self._connection.is_closed() or self.lost.is_set():
            return False
        try:
            await self._connection.fetchval("SELECT 1", timeout=timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return True

    async def close(self) -> None:
        """Close the connection: PostgreSQL ends the session, which frees the lock."""
        try:
            await self._connection.close(timeout=CONNECT_TIMEOUT)
        except Exception:  # a connection already broken: drop it
            self._connection.terminate()


async def wake_sender(database: Database) -> None:
    """Tell the leader (through PostgreSQL) that notifications are due."""
    async with database.connection() as connection:
        notify = text("SELECT pg_notify(:channel, '')")
        await connection.execute(notify, {"channel": OUTBOX_CHANNEL})


async def leader_backend(database: Database) -> int | None:
    """The PostgreSQL backend pid of the session holding the leader's lock, if any."""
    query = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = :high AND objid = :low AND objsubid = 1"
    )
    async with database.connection() as connection:
        found = await connection.execute(query, {"high": LOCK_HALVES[0], "low": LOCK_HALVES[1]})
        pid = found.scalar()
    return int(pid) if pid is not None else None
