"""SQLite on the event loop's thread: SQLAlchemy's own pysqlite dialect, declared async.

aiosqlite gives each connection a thread of its own and hands every cursor call to it and
back, four hand-offs a statement, each waiting for the GIL the woken thread holds. A local
SQLite file in WAL mode answers a statement in microseconds, less than one hand-off costs, so
Houqin's SQLite URLs (`sqlite:///houqin.db`) run the standard library's sqlite3 directly on
the event loop's thread, inside the greenlet where SQLAlchemy's async engine runs its sync
core: sessions, pools and the ORM work unchanged, only the hand-offs are gone. A unit of
work that has run statements for 20 ms lets the loop's other tasks run before its next one.

The one wait SQLite can impose is another process holding the write lock. A busy handler
would sleep on the event loop's thread, so these connections keep SQLite's busy timeout short
and `storage.database.Database` waits at BEGIN IMMEDIATE instead, with asyncio sleeps (WAL
readers never wait for a writer). A file that must stay on aiosqlite's threads (a slow
network disk, say) still can: `sqlite+aiosqlite:///…`.

Registered as the `sqlite+inloop` driver with SQLAlchemy's dialect registry (its documented
way to add a driver); `Database` picks it for plain `sqlite://` URLs. The cursor implements the
one method SQLAlchemy's async results call on an async driver's cursor (`_async_soft_close`,
SQLAlchemy 2.0.44+): were a release to rename it, every query would fail at once (the whole
suite runs on this driver), not quietly.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.util import await_

DRIVER = "inloop"
BUSY_TIMEOUT_MS = 2  # the longest the loop's thread sleeps in SQLite's own busy handler
TURN_SECONDS = 0.02  # statements run back to back for this long, then the loop's others go
_turn_started = 0.0


class _Cursor(sqlite3.Cursor):
    """sqlite3's cursor as SQLAlchemy's async engine expects of an async driver."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        # The async engine checks that a statement went through its await bridge; it does,
        # as a coroutine that runs the statement at once on this thread (no thread hop).
        return await_(self._run(super().execute, sql, parameters))

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return await_(self._run(super().executemany, sql, parameters))

    @staticmethod
    async def _run(method: Any, sql: str, parameters: Any) -> Any:
        global _turn_started
        # Statements on this thread never wait, so a long unit of work (a month's appraisal)
        # would keep the loop to itself; past a turn's length it lets the others run first,
        # as a driver with a thread would at every statement.
        if time.perf_counter() - _turn_started > TURN_SECONDS:
            await asyncio.sleep(0)
            _turn_started = time.perf_counter()
        return method(sql, parameters)

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's async results call once a statement has run, for drivers whose
        rows must be fetched before the result goes back to sync code; sqlite3's rows are
        read in place, on this thread, so there is nothing to do."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class SQLiteInLoopDialect(SQLiteDialect_pysqlite):
    """pysqlite, called from SQLAlchemy's async engine without a thread in between."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # The pool's waits for a free connection are asyncio waits, as with aiosqlite; an
        # in-memory database is one connection shared by all (what pysqlite does too).
        if is_memory(url):
            return pool.StaticPool
        return pool.AsyncAdaptedQueuePool

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return sqlite3.connect(*cargs, factory=_Connection, **cparams)

    def get_driver_connection(self, connection: object) -> object:
        return connection  # the sqlite3.Connection itself: there is no async wrapper


def is_memory(url: URL) -> bool:
    """Whether the URL names an in-memory database rather than a file."""
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def in_loop_url(url: str) -> str:
    """The engine URL for a configured SQLite URL: plain `sqlite://` runs in the loop."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite":
        return parsed.set(drivername=f"sqlite+{DRIVER}").render_as_string(hide_password=False)
    return url


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteInLoopDialect")
