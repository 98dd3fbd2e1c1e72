"""Several workers on one PostgreSQL database (HOUQIN_SCALE_OUT): how an update taken from the
webhook is handled once, in its person's order, with that person's state as the database has it.

A reverse proxy spreads Telegram's webhook over the workers, so one person's updates reach
different workers, and Telegram sends again what it did not see answered. Each worker:

1. writes the update to the inbox (`storage.update_inbox`, keyed by `update_id`) and answers
   Telegram only after the commit: nothing answered is lost, a resend is taken once;
2. works through that person's waiting updates in `update_id` order while holding the person's
   lock (a PostgreSQL advisory lock, which holds across processes and is released by the server
   when a worker dies). A worker that does not get the lock leaves its update to the holder,
   who looks again after letting go, so no update is left behind;
3. before each update, reads the person's form state and user data from the database (another
   worker may have moved the form on since): python-telegram-bot keeps conversations in memory,
   loaded once at start;
4. records the update handled in the same transaction as the state it left (HouqinApplication
   writes persistence after each update). A worker killed before that leaves the update
   waiting with the state as it was: a sweep (every worker runs one) finds updates that waited
   too long and handles them, so a killed worker's updates are handled by another at least
   once (an answer it had sent may come twice; the form does not take the update twice).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler

from bot.app import PerPersonUpdateProcessor, services_of
from bot.persistence import CONVERSATION, INBOX_UPDATE, DatabasePersistence
from handlers.context import HouqinApp
from storage import update_inbox
from storage.persisted_state import StateKey

log = logging.getLogger(__name__)

# People worked through at once by one worker: each holds a pooled connection for its lock,
# so at most half the pool (HOUQIN_DATABASE_POOL_SIZE, and as many more at a peak) goes to
# locks and their handlers always find a connection free.
MAX_DRAINING = 16
SWEEP_EVERY = 2.0  # seconds between looks for updates left waiting
LEFT_WAITING = timedelta(seconds=3)  # an update waiting this long is looked after by a sweep


class UpdateInbox:
    """Takes a worker's webhook updates through the shared inbox (see the module docstring)."""

    def __init__(self, application: HouqinApp) -> None:
        self.application = application
        self.services = services_of(application)
        self._slots = asyncio.Semaphore(
            max(1, min(MAX_DRAINING, self.services.database.pool_size // 2))
        )
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()  # people whose updates came while being worked on
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self._sweeps = 0

    async def receive(self, data: dict[str, Any], update: Update) -> bool:
        """Keep the update (committed when this returns) and start on its person's updates;
        False if it was received before."""
        key = PerPersonUpdateProcessor.person_key(update)
        async with self.services.database.connection() as connection:
            new = await update_inbox.receive(
                connection,
                update_id=update.update_id,
                person_key=key,
                data=data,
                now=self.services.now(),
            )
        if new:
            self._work_on(key)
        return new

    def _work_on(self, key: int) -> None:
        if self._stopping:
            return  # left in the inbox: another worker's sweep, or the next start, takes it
        running = self._draining.get(key)
        if running is not None and not running.done():
            self._again.add(key)  # this worker is on the person: it looks again when done
            return
        task = asyncio.get_running_loop().create_task(self._drain(key), name=f"inbox {key}")
        self._draining[key] = task
        task.add_done_callback(lambda _task: self._forget(key, task))

    def _forget(self, key: int, task: asyncio.Task[None]) -> None:
        if self._draining.get(key) is task:
            del self._draining[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox: handling person %s failed", key, exc_info=task.exception())
        if key in self._again:
            self._again.discard(key)
            self._work_on(key)

    async def _drain(self, key: int) -> None:
        """Handle the person's waiting updates in order while holding their lock; after
        letting go, look again (an update may have come in while the lock was being let go)."""
        database = self.services.database
        async with self._slots:
            while not self._stopping:
                async with database.engine.connect() as connection:
                    held = await update_inbox.try_person_lock(connection, key)
                    await connection.commit()
                    if not held:
                        return  # another worker holds the person; it looks again after
                    try:
                        await self._handle_waiting(connection, key)
                    finally:
                        try:
                            await update_inbox.release_person_lock(connection, key)
                            await connection.commit()
                        except Exception:
                            # A connection that may still hold the lock is not pooled again.
                            await connection.invalidate()
                            raise
                async with database.reading_connection() as connection:
                    if await update_inbox.next_waiting(connection, key) is None:
                        return

    async def _handle_waiting(self, connection: Any, key: int) -> None:
        while not self._stopping:
            waiting = await update_inbox.next_waiting(connection, key)
            await connection.commit()
            if waiting is None:
                return
            persistence = await self._reload_state(key)
            update = Update.de_json(waiting.data, self.application.bot)
            # Recorded handled in the transaction that saves the state the update left
            # (HouqinApplication commits the persistence after each update; this commit
            # writes it if that one failed, and stops here if it fails again).
            token = INBOX_UPDATE.set(waiting.update_id)
            try:
                await self.application.process_update(update)
            finally:
                INBOX_UPDATE.reset(token)
            await persistence.commit()

    async def _reload_state(self, key: int) -> DatabasePersistence:
        """Read the person's form state and user data from the database into this worker's
        memory, where python-telegram-bot reads them; the persistence that holds them."""
        persistence = self.application.persistence
        assert isinstance(persistence, DatabasePersistence)  # bot.app builds it so
        conversations = _persistent_conversations(self.application)
        user_entry: StateKey = ("user", str(key))
        form_entries = {
            handler: (f"{CONVERSATION}{handler.name}", persistence.conversation_key((key,)))
            for handler in conversations
        }
        stored = await persistence.reload([user_entry, *form_entries.values()])
        user_data = self.application.user_data[key]
        user_data.clear()
        user_data.update(stored.get(user_entry) or {})
        for handler, entry in form_entries.items():
            # python-telegram-bot keeps a conversation's states in this mapping and offers
            # no public way to set one (it loads them once, at start).
            states = handler._conversations
            if entry in stored:
                states.update_no_track({(key,): stored[entry]})
            else:
                states.pop((key,), None)
        return persistence

    async def start(self) -> None:
        """Look after updates left waiting (by a worker that died), now and every few
        seconds."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="inbox sweep")

    async def _sweep(self) -> None:
        database = self.services.database
        while not self._stopping:
            try:
                now = self.services.now()
                async with database.connection() as connection:
                    waiting = await update_inbox.waiting_people(
                        connection, received_before=now - LEFT_WAITING
                    )
                    if self._sweeps % 100 == 0:
                        await update_inbox.forget_handled(
                            connection, handled_before=now - update_inbox.KEEP_HANDLED
                        )
                self._sweeps += 1
                for key in waiting:
                    if key not in self._draining:
                        self._work_on(key)
            except Exception:
                log.exception("inbox: the sweep failed; it runs again")
            await asyncio.sleep(SWEEP_EVERY)

    async def stop(self) -> None:
        """Finish the update each person's worker is on; leave the rest in the inbox."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await asyncio.gather(*self._draining.values(), return_exceptions=True)


def _persistent_conversations(application: HouqinApp) -> list[ConversationHandler[Any]]:
    return [
        handler
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, ConversationHandler) and handler.persistent and handler.name
    ]
