"""Form state lives in the database: a conversation in progress survives a restart."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.persistence import DatabasePersistence
from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp, HouqinContext
from notices.services import Services
from school.clock import ManualClock
from storage import persisted_state
from storage.database import Database, DatabaseBusy
from storage.models import PersistedState

ASK_NAME = 1


def _add_name_form(application: HouqinApp) -> None:
    async def begin(update: Update, context: HouqinContext) -> int:
        assert update.effective_message is not None
        assert context.user_data is not None
        context.user_data["form"] = {"started": True}
        await update.effective_message.reply_text("What is your name?")
        raise ApplicationHandlerStop(ASK_NAME)  # group -1: keep the fallbacks of group 0 out

    async def got_name(update: Update, context: HouqinContext) -> int:
        assert update.effective_message is not None and context.user_data is not None
        started = context.user_data.get("form", {}).get("started")
        await update.effective_message.reply_text(
            f"Hello {update.effective_message.text} {started}"
        )
        raise ApplicationHandlerStop(ConversationHandler.END)

    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("ask", begin)],
            states={ASK_NAME: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_name)]},
            fallbacks=[],
            name="test_name_form",
            persistent=True,
        ),
        group=-1,
    )


async def test_a_form_resumes_after_restart(services: Services, sandbox: BotApiSandbox) -> None:
    user = sandbox.add_user("王老师")
    async with running_bot(services, sandbox, prepare=_add_name_form):
        await user.send("/ask")
        assert sandbox.last_message(user.id).shown_text == "What is your name?"
    async with running_bot(services, sandbox, prepare=_add_name_form):
        await user.send("Bob")
        assert sandbox.last_message(user.id).shown_text == "Hello Bob True"


async def test_sqlite_runs_in_wal_with_foreign_keys(database: Database) -> None:
    if database.dialect != "sqlite":
        return
    async with database.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        # SQLite runs on the event loop's thread: its own busy handler may sleep there for
        # 2 ms at most; longer waits for a lock are asyncio sleeps (see the tests below).
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 2
    assert database.engine.dialect.driver == "inloop"


async def test_form_state_is_committed_together_and_survives_a_failed_write(
    database: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes staged by several updates go out in one write; a failed write loses nothing."""
    persistence = DatabasePersistence(database, clock)
    assert await persistence.get_user_data() == {}
    await persistence.update_user_data(1, {"form": {"place": "教学楼A"}})
    await persistence.update_conversation("report", (1, 1), 3)

    real_write = persisted_state.write
    calls: list[int] = []

    async def busy_once(session: AsyncSession, changes: Any, *, now: datetime) -> None:
        calls.append(len(changes))
        if len(calls) == 1:
            raise DatabaseBusy("database is locked")
        await real_write(session, changes, now=now)

    monkeypatch.setattr(persisted_state, "write", busy_once)
    with pytest.raises(DatabaseBusy):
        await persistence.commit()
    await persistence.update_user_data(2, {"language": "en"})
    await persistence.update_user_data(2, {"language": "en"})  # unchanged: staged once
    await asyncio.gather(persistence.commit(), persistence.commit())
    assert calls == [2, 3]  # the retry carries the failed changes and the new one, once

    await persistence.update_conversation("report", (1, 1), None)  # the form ended
    await persistence.flush()
    restarted = DatabasePersistence(database, clock)
    assert await restarted.get_user_data() == {
        1: {"form": {"place": "教学楼A"}},
        2: {"language": "en"},
    }
    assert await restarted.get_conversations("report") == {}


async def test_state_of_conversations_no_longer_used_is_dropped_at_start_up(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    """What the conversations before the form owner saved (their own rows, keyed per chat and
    user) and a form's step no release has any more are deleted when the bot starts; a form in
    progress, and the person's drafts, stay."""
    user = sandbox.add_user("王老师")
    key = f"[{user.id}]"
    async with services.database.transaction() as session:
        await persisted_state.write(
            session,
            {
                ("conversation:tickets", key): "form",
                ("conversation:worklogs", f"[{user.id}, {user.id}]"): 1,
                ("conversation:inspection_walk", f"[{user.id}, {user.id}]"): 0,
                ("conversation:appraisal_rate", f"[{user.id}, {user.id}]"): 0,
                ("conversation:forms", key): "log.items",
                ("conversation:forms", "[42]"): "survey.question",  # a form since removed
                ("user", str(user.id)): {"worklog_form": {"day": "2026-11-23", "items": ["a"]}},
            },
            now=clock.now(),
        )
    async with running_bot(services, sandbox):
        pass
    async with services.database.reading() as session:
        kinds = sorted((await session.exec(select(PersistedState.kind).distinct())).all())
        forms = await persisted_state.load_kind(session, "conversation:forms")
        users = await persisted_state.load_kind(session, "user")
    assert [k for k in kinds if k.startswith("conversation:")] == ["conversation:forms"]
    assert forms == {key: "log.items"}
    assert users[str(user.id)]["worklog_form"]["items"] == ["a"]
