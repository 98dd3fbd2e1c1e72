"""Engine, sessions and migrations: one session per unit of work."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import sqlite_in_loop

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
READ_ONLY = "houqin_read_only"
POOL_SIZE = 20  # and as many more at a peak


def insert_on_conflict(
    session: AsyncSession, model: type[Any]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's database that supports ON CONFLICT (both dialects do)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _locked(error: OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock (SQLITE_BUSY)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_BUSY if code is not None else "locked" in str(error.orig)


class DatabaseBusy(Exception):
    """The database stayed locked or unreachable; the caller should tell the user to retry."""


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so writers queue instead of failing.

    Recipe from the SQLAlchemy docs (pysqlite/aiosqlite "serializable isolation"): the driver's
    own implicit BEGIN is switched off and SQLAlchemy emits one at the start of each transaction.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Readers (WAL) never wait for writers, so read-only units of work take no lock.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """The application's database: an async engine and a session factory."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        sqlite = url.startswith("sqlite")
        engine_url = sqlite_in_loop.in_loop_url(url)
        # SQLite on the event loop's thread must not sleep in SQLite's busy handler: a lock
        # held by another process is waited for at BEGIN IMMEDIATE, with asyncio sleeps.
        self._in_loop = engine_url != url
        self.busy_timeout_ms = busy_timeout_ms
        # A server can drop idle connections; a local SQLite file cannot. The pool keeps enough
        # connections for the updates handled at once (PerPersonUpdateProcessor), so they are
        # not closed and reopened under load (on aiosqlite each new connection costs a thread too).
        self.engine: AsyncEngine = create_async_engine(
            engine_url,
            echo=echo,
            pool_pre_ping=not sqlite,
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        if sqlite:
            _configure_sqlite(
                self.engine,
                sqlite_in_loop.BUSY_TIMEOUT_MS if self._in_loop else busy_timeout_ms,
            )
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._serialize_writers = sqlite
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._writer_owner: dict[asyncio.AbstractEventLoop, asyncio.Task[Any] | None] = {}
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._read_sessions = async_sessionmaker(
            self._read_engine,
            class_=AsyncSession,
            expire_on_commit=False,
        )

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work: committed on success, rolled back on error.

        A database that stays locked or unreachable after a few short retries of the
        connection surfaces as DatabaseBusy, so the handler can say so instead of crashing.
        On SQLite, this process's writers queue on an asyncio lock first: SQLite takes one
        writer at a time anyway, and its own busy handler would make the others sleep in
        growing steps of up to 100 ms.
        """
        async with self._writer_turn(), self._sessions() as session:
            try:
                if self._in_loop:
                    await self._begin_when_free(session.connection, session.rollback)
                yield session
                await session.commit()
            except OperationalError as exc:
                await session.rollback()
                raise DatabaseBusy(str(exc.orig)) from exc
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, without an ORM session: for a hot path of plain
        statements (the form state written after every update). Committed on success,
        rolled back on error; busy as `transaction`, and on SQLite it takes the same turn."""
        async with self._writer_turn():
            try:
                async with self.engine.connect() as connection:
                    await self._begin_when_free(connection.begin, connection.rollback)
                    yield connection
                    await connection.commit()
            except OperationalError as exc:
                raise DatabaseBusy(str(exc.orig)) from exc

    async def _begin_when_free(
        self, begin: Callable[[], Awaitable[object]], undo: Callable[[], Awaitable[None]]
    ) -> None:
        """Begin a transaction; on SQLite in the loop, wait for another process's write lock
        with asyncio sleeps (up to the busy timeout) instead of in SQLite's busy handler."""
        if not self._in_loop:
            await begin()
            return
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.002
        while True:
            try:
                await begin()
                return
            except OperationalError as exc:
                if not _locked(exc) or time.monotonic() >= deadline:
                    raise
            await undo()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if not self._serialize_writers:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        task = asyncio.current_task()
        if self._writer_owner.get(loop) is task:  # a nested unit of work: SQLite decides
            yield
            return
        async with lock:
            self._writer_owner[loop] = task
            try:
                yield
            finally:
                self._writer_owner.pop(loop, None)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for a read-only unit of work (no write lock on SQLite); never commits.

        Closing the session ends its transaction and detaches what it loaded, still usable.
        """
        async with self._read_sessions() as session:
            try:
                yield session
            except OperationalError as exc:
                raise DatabaseBusy(str(exc.orig)) from exc

    @asynccontextmanager
    async def reading_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a read-only hot path of plain statements, without an ORM session
        (who is behind each update); no write lock on SQLite, never commits."""
        try:
            async with self._read_engine.connect() as connection:
                yield connection
        except OperationalError as exc:
            raise DatabaseBusy(str(exc.orig)) from exc

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade_to_head)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Workers started together (HOUQIN_SCALE_OUT) migrate one after the other: the lock
        # is held until this transaction ends, and the next finds the schema up to date.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
            {"name": "houqin:migrate"},
        )
    command.upgrade(alembic_config(connection), "heads")


def migrate_sync(url: str) -> None:
    """Run the migrations from synchronous code (the CLI)."""

    async def _run() -> None:
        database = Database(url)
        try:
            await database.migrate()
        finally:
            await database.dispose()

    asyncio.run(_run())
