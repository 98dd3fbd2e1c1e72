"""`houqin backup` copies a live SQLite database consistently."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from school.clock import ManualClock
from storage import people
from storage.database import Database
from storage.models import Role


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_backup_while_writing(database: Database, clock: ManualClock, tmp_path: Path) -> None:
    async def keep_writing() -> None:
        for _ in range(40):
            async with database.transaction() as session:
                await people.create_invite(session, role=Role.TEACHER, now=clock.now())
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.02)
    out = tmp_path / "copy.db"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "backup", str(out)],
        env={**os.environ, "DATABASE_URL": database.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    await writer
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(out) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        invites = copy.execute("SELECT count(*) FROM invite").fetchone()[0]
        assert 0 < invites <= 40
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone()


def test_backup_refuses_postgresql(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "backup", str(tmp_path / "x.db")],
        env={**os.environ, "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
