"""A locked database: the user is told the system is busy, nothing is half-saved, and the
same action works once the lock is gone."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import people
from storage.database import Database
from storage.models import Role


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_locked_database_answers_busy_and_loses_nothing(
    services: Services, sandbox: BotApiSandbox
) -> None:
    path = Path(services.database.url.removeprefix("sqlite+aiosqlite:///"))
    impatient = Database(services.database.url, busy_timeout_ms=200)
    services = replace(services, database=impatient)
    async with services.database.transaction() as session:
        invite = await people.create_invite(session, role=Role.TEACHER, now=services.now())
    teacher = sandbox.add_user("王老师")
    async with running_bot(services, sandbox):
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            await teacher.start_bot(invite.code)
            assert "系统繁忙" in sandbox.last_message(teacher.id).shown_text
        finally:
            blocker.rollback()
            blocker.close()
        async with services.database.transaction() as session:
            assert await people.get_person_by_telegram_id(session, teacher.id) is None
        await teacher.start_bot(invite.code)
        assert "你已注册为" in sandbox.last_message(teacher.id).shown_text
    await impatient.dispose()
