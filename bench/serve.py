"""One bot in a process of its own, polling a Bot API server: what the throughput benchmark runs.

In production the bot and Telegram's servers do not share a process; in the benchmark the
sandbox (standing in for Telegram) and the simulated people stay in the parent process, and
the bot under test runs here, so that neither is charged for the other's work.

    python -m bench.serve houqin --token T --base-url URL --base-file-url URL --database-url URL
    python -m bench.serve floor  --token T --base-url URL --base-file-url URL

`houqin` is the real application (`running_application`, the clock at the benchmark's Monday
morning); `floor` is a minimal python-telegram-bot bot that answers each message and button
press with a new message, with the same HTTP client and pool as Houqin and updates processed
concurrently as Houqin does (so the ratio of the two is Houqin's own work).

The process prints `ready` once it polls, runs until SIGTERM, then prints its own figures as
one JSON line: peak resident memory and CPU seconds. With `--profile FILE` the event loop's
thread is sampled by pyinstrument from `ready` to SIGTERM and its session saved to FILE
(`bench.where_time_goes` reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import event
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.common import BENCH_START, peak_rss_mb
from bench.trips import Trips
from bot.app import BOT_API_CONNECTIONS, BOT_API_POOL_TIMEOUT
from bot.telegram_http import AiohttpRequest
from devtools.harness import running_application
from notices.services import build_services
from school.clock import ManualClock
from school.settings import load_settings
from storage.database import Database

READY = "ready"


STATEMENTS = {"sql_statements": 0, "sql_commits": 0}  # the bot's, printed at the end


def count_statements(database: Database) -> None:
    """Count the SQL statements and commits the bot's database layer runs."""

    def executed(*_args: object) -> None:
        STATEMENTS["sql_statements"] += 1

    def committed(*_args: object) -> None:
        STATEMENTS["sql_commits"] += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", executed)
    event.listen(database.engine.sync_engine, "commit", committed)


@asynccontextmanager
async def houqin(args: argparse.Namespace) -> AsyncIterator[None]:
    """The real bot on the given database (already migrated, people registered)."""
    settings = load_settings(
        _env_file=None,
        database_url=args.database_url,
        telegram_bot_token=args.token,
        telegram_base_url=args.base_url,
        telegram_base_file_url=args.base_file_url,
        log_level="ERROR",
    )
    services = build_services(settings, clock=ManualClock(BENCH_START))
    count_statements(services.database)
    try:
        async with running_application(services):
            yield
    finally:
        await services.database.dispose()


@asynccontextmanager
async def floor(args: argparse.Namespace) -> AsyncIterator[None]:
    """The framework floor: answers each message and button with a new message (with
    `--trips`, making Houqin's two database trips around each answer)."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("next", callback_data="floor:next")]])
    trips = Trips(args.trips, args.database_url) if args.trips else None
    if trips is not None:
        count_statements(trips.database)
    steps: dict[int, int] = {}

    async def before(update: Update) -> None:
        if trips is not None and update.effective_user is not None:
            await trips.who(update.effective_user.id)

    async def after(update: Update) -> None:
        if trips is not None and update.effective_user is not None:
            user = update.effective_user.id
            steps[user] = steps.get(user, 0) + 1
            await trips.leave(user, steps[user])

    async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await before(update)
        await update.effective_message.reply_text("ok", reply_markup=markup)
        await after(update)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await before(update)
        await query.answer()
        await query.edit_message_text("✓ next")
        await context.bot.send_message(query.message.chat.id, "ok", reply_markup=markup)
        await after(update)

    application: Application = (
        ApplicationBuilder()
        .token(args.token)
        .base_url(args.base_url)
        .base_file_url(args.base_file_url)
        .concurrent_updates(True)
        .request(AiohttpRequest(BOT_API_CONNECTIONS, pool_timeout=BOT_API_POOL_TIMEOUT))
        .get_updates_request(AiohttpRequest(1))
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, answer))
    application.add_handler(CallbackQueryHandler(pressed))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        if trips is not None:
            await trips.close()


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    bot: AbstractAsyncContextManager[None] = houqin(args) if args.kind == "houqin" else floor(args)
    profiler = None
    async with bot:
        if args.profile:
            from pyinstrument import Profiler  # a dev dependency

            profiler = Profiler(interval=0.001, async_mode="disabled")
            profiler.start()
        print(READY, flush=True)
        await stop.wait()
        if profiler is not None:
            profiler.stop().save(args.profile)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "peak_rss_mb": peak_rss_mb(),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        **STATEMENTS,
    }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["houqin", "floor"])
    parser.add_argument("--token", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--base-file-url", required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", default=None, help="save a pyinstrument session here")
    parser.add_argument(
        "--trips", choices=["product", "sqlite3"], default=None,
        help="floor: make Houqin's two database trips per update (on --database-url)",
    )  # fmt: skip
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve(parser.parse_args()))
