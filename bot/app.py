"""Application assembly: the one place where handlers are registered, in their order, and
how updates are processed (each person's in order). Starting and stopping: `bot.lifecycle`."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.persistence import INBOX_UPDATE, DatabasePersistence
from bot.rate_limit import ChatRateLimiter
from bot.telegram_http import AiohttpRequest
from handlers import (
    appraisal,
    bookings,
    buttons,
    cockpit,
    common,
    exports,
    groups,
    inspections,
    meters,
    people,
    places,
    plans,
    repair_stats,
    tickets,
    worklogs,
)
from handlers.context import BotData, HouqinApp, HouqinContext
from handlers.forms import FormOwner
from notices.services import Services

log = logging.getLogger(__name__)

# Group numbers. python-telegram-bot runs at most one handler per group, groups in order.
IDENTIFY_GROUP = -100  # loads the person and their language for every update
MAIN_GROUP = 0  # features, then the fallbacks; the first matching handler wins

RATE_LIMIT_RETRIES = 5
# Requests to the Bot API in flight at once (answers, edits and the outbox share them). With
# Telegram ~0.3 s away that is ~200 requests/s; a request waits up to the pool timeout for a
# free connection before it fails as timed out.
BOT_API_CONNECTIONS = 64
BOT_API_POOL_TIMEOUT = 10.0
# Updates taken from Telegram and not finished yet, beyond which python-telegram-bot holds
# back further ones; the real limit on concurrency is PerPersonUpdateProcessor's `max_running`.
QUEUED_UPDATES_LIMIT = 100_000


class PerPersonUpdateProcessor(BaseUpdateProcessor):
    """Updates of different people run concurrently; each person's run one at a time, in the
    order they arrived, however many arrive at once (an album is ten updates in a burst).

    A person's form steps, button presses and commands therefore never race each other (the
    conversation state stays consistent), while one slow answer does not hold up everyone else.

    Each person has a queue, kept as a chain: an update waits for the one before it of the same
    person, then for one of `max_running` slots. python-telegram-bot's own limit (the base
    class's semaphore, taken before an update gets here) is set so high that it never makes an
    update wait: waiting there would let updates overtake each other, and a person's queued
    updates would hold slots that other people's updates need.
    """

    def __init__(self, max_running: int = 64) -> None:
        super().__init__(QUEUED_UPDATES_LIMIT)
        self._slots = asyncio.Semaphore(max_running)
        self._tails: dict[int, asyncio.Future[None]] = {}  # each person's last queued update

    @staticmethod
    def person_key(update: object) -> int:
        """Whose update it is: the user's id, else the chat's (0 for neither)."""
        if isinstance(update, Update):
            if update.effective_user is not None:
                return update.effective_user.id
            if update.effective_chat is not None:
                return update.effective_chat.id
        return 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self.person_key(update)
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done  # before any await: the arrival order is the queue's order
        started = False
        try:
            if previous is not None:
                await asyncio.shield(previous)  # a cancelled wait leaves it be
            async with self._slots:
                started = True
                await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while queued (shutdown): it never runs
            if previous is not None and not previous.done():
                # Cancelled while the one before still runs: the next waits for that one too.
                previous.add_done_callback(lambda _previous: self._finish(key, done))
            else:
                self._finish(key, done)

    def _finish(self, key: int, done: asyncio.Future[None]) -> None:
        if not done.done():
            done.set_result(None)
        if self._tails.get(key) is done:
            del self._tails[key]  # nobody queued behind it

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class HouqinApplication(Application):
    """An Application that writes persistence after every update, not only on an interval.

    A form's progress is therefore in the database as soon as the bot has answered, so a
    restart (or a crash) resumes the form where the user left it.
    """

    async def process_update(self, update: object) -> None:
        await super().process_update(update)
        handled = INBOX_UPDATE.get()
        if handled is not None and isinstance(self.persistence, DatabasePersistence):
            self.persistence.handled_with_state(handled)  # in the same transaction
        await self.update_persistence()

    async def update_persistence(self) -> None:
        """Hand the changes to the persistence, then commit them (see DatabasePersistence).

        A failed commit goes to the error handlers, as python-telegram-bot does with errors of
        the persistence; the changes stay staged and the next update (or the 5-second
        interval) writes them.
        """
        await super().update_persistence()
        if isinstance(self.persistence, DatabasePersistence):
            try:
                await self.persistence.commit()
            except Exception as exc:
                await self.process_error(update=None, error=exc)


def register_handlers(application: HouqinApp) -> None:
    """Every handler of the bot, in order.

    Within MAIN_GROUP the order matters: multi-step forms (ConversationHandlers) first so they
    see their own input, then commands and buttons of each feature, then the fallbacks that
    answer anything nobody else took.
    """
    application.add_handler(TypeHandler(Update, common.identify), group=IDENTIFY_GROUP)

    # One owner for every feature's forms, first: a person is in one form at a time and their
    # input goes to it (see handlers.forms).
    forms = [
        *tickets.forms(),
        *worklogs.forms(),
        *inspections.forms(),
        *appraisal.forms(),
        *meters.forms(),
        *plans.forms(),
        *bookings.forms(),
    ]
    application.add_handler(FormOwner(forms, outside_cancel=common.cancel).conversation())

    # Features: their commands and buttons.
    tickets.register(application)  # before people: it owns /start report deep links
    worklogs.register(application)
    inspections.register(application)
    appraisal.register(application)
    repair_stats.register(application)
    exports.register(application)
    places.register(application)
    meters.register(application)
    plans.register(application)
    bookings.register(application)
    people.register(application)
    groups.register(application)
    cockpit.register(application)

    # Fallbacks: last in MAIN_GROUP.
    application.add_handler(CommandHandler("cancel", common.cancel))
    application.add_handler(MessageHandler(filters.COMMAND, common.unknown_command))
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, common.unexpected_message
        )
    )
    application.add_handler(CallbackQueryHandler(buttons.unanswered_button))
    application.add_error_handler(common.on_error)


def build_application(services: Services) -> HouqinApp:
    """Build the bot for the given services; the token and Bot API URLs come from settings."""
    settings = services.settings
    connections = [
        AiohttpRequest(BOT_API_CONNECTIONS, pool_timeout=BOT_API_POOL_TIMEOUT),
        AiohttpRequest(1),  # getUpdates
    ]
    builder = (
        ApplicationBuilder()
        .application_class(HouqinApplication)
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .context_types(ContextTypes(context=HouqinContext, bot_data=BotData))
        # Every text the bot writes is HTML (user content goes through notices.render.esc).
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .persistence(DatabasePersistence(services.database, services.clock))
        # Flood limits per chat (a group's 20/min, a 429 for one chat) apply to every request
        # and hold back that chat only; the 30 messages/s overall limit is for bulk
        # notifications, so notices.outbox applies it to what it delivers, and answers to
        # the person acting are not queued behind a broadcast.
        .rate_limiter(ChatRateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(PerPersonUpdateProcessor())
        .request(connections[0])
        .get_updates_request(connections[1])
    )
    application: HouqinApp = builder.build()
    application.bot_data.services = services
    application.bot_data.connections = list(connections)
    register_handlers(application)
    return application


def services_of(application: HouqinApp) -> Services:
    """The services attached to an application."""
    services = application.bot_data.services
    if services is None:
        raise RuntimeError("services are not attached to the application")
    return services
