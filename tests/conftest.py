"""Shared fixtures: a migrated database on SQLite (and PostgreSQL when reachable), a manual
clock, the default profile, and the real bot running against the local Bot API sandbox."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from school.profile import SchoolProfile, default_profile_path, load_profile
from school.settings import Settings
from storage.database import Database

SCHOOL_TZ = ZoneInfo("Asia/Shanghai")
# Charts are drawn with a small bundled CJK font, so they render on machines without one.
os.environ.setdefault(
    "HOUQIN_CHART_FONT",
    str(Path(__file__).parents[1] / "devtools" / "fonts" / "wqy-microhei-subset.ttf"),
)
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
_postgres_reachable: bool | None = None


async def _postgres_is_reachable() -> bool:
    global _postgres_reachable
    if _postgres_reachable is None:
        import asyncpg

        dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
        try:
            connection = await asyncio.wait_for(asyncpg.connect(dsn), timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            _postgres_reachable = False
        else:
            await connection.close()
            _postgres_reachable = True
    return _postgres_reachable


async def _reset_postgres() -> None:
    import asyncpg

    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated database: a SQLite file, or the PostgreSQL test database."""
    if request.param == "postgresql":
        if not await _postgres_is_reachable():
            pytest.skip(
                f"PostgreSQL is unreachable at {POSTGRES_URL}; set TEST_POSTGRES_URL to run "
                "the PostgreSQL variant of this test"
            )
        await _reset_postgres()
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'houqin.db'}"
    db = Database(url)
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """Monday 23 November 2026, 09:00 in Shanghai (a working day)."""
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SCHOOL_TZ))


@pytest.fixture(scope="session")
def profile() -> SchoolProfile:
    """The default school profile that ships with Houqin."""
    return load_profile(default_profile_path())


@pytest.fixture
def services(database: Database, clock: ManualClock, profile: SchoolProfile) -> Services:
    """Services for a test: the test's database, clock and the default profile."""
    settings = Settings(_env_file=None, database_url=database.url)
    return Services(settings=settings, profile=profile, database=database, clock=clock)


@pytest.fixture
async def sandbox() -> AsyncIterator[BotApiSandbox]:
    """The local Bot API sandbox on a free port."""
    async with BotApiSandbox() as running:
        yield running


@pytest.fixture
async def bot(services: Services, sandbox: BotApiSandbox) -> AsyncIterator[BotApiSandbox]:
    """The real bot polling the sandbox; the test acts through the returned sandbox."""
    async with running_bot(services, sandbox):
        yield sandbox
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"
