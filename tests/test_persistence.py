"""Form state lives in the database: a conversation in progress survives a restart."""

from __future__ import annotations

from sqlalchemy import text
from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import HouqinApp, HouqinContext, Services
from bot.harness import running_bot
from bot.sandbox.server import BotApiSandbox
from storage.database import Database

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
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
