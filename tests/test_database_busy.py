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


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_report_is_never_shown_submitted_before_it_is_filed(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """提交 while another writer holds the database: the person is told it is busy, the summary
    keeps its buttons (nothing says 已提交), and pressing 提交 again files the report once."""
    from sqlmodel import select

    from storage.models import Ticket
    from tests.test_worklogs_e2e import english

    path = Path(services.database.url.removeprefix("sqlite+aiosqlite:///"))
    impatient = Database(services.database.url, busy_timeout_ms=200)
    services = replace(services, database=impatient)
    async with running_bot(services, sandbox):
        teacher = await english(sandbox, services, "王老师", Role.TEACHER)
        await teacher.send("/report")
        for label in ("水暖", "实验楼", "3楼", "女厕"):
            await teacher.press(sandbox.last_message(teacher.id), label)
        await teacher.send("水龙头一直滴水，关不紧")
        await teacher.press(sandbox.last_message(teacher.id), "Skip")
        await teacher.press(sandbox.last_message(teacher.id), "一般")
        summary = sandbox.last_message(teacher.id)
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            answer = await teacher.press(summary, "Submit")
        finally:
            blocker.rollback()
            blocker.close()
        assert answer is not None and ("busy" in str(answer.text) or "系统繁忙" in str(answer.text))
        assert "Submitted" not in summary.shown_text
        assert any("Submit" in b for row in summary.buttons for b in row), summary.shown_text
        async with services.database.reading() as session:
            assert (await session.exec(select(Ticket))).all() == []
        await teacher.press(summary, "Submit")
        assert "Submitted" in summary.shown_text
        async with services.database.reading() as session:
            assert len((await session.exec(select(Ticket))).all()) == 1
    assert sandbox.rejected == []
    await impatient.dispose()
