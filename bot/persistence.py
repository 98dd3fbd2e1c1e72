"""python-telegram-bot persistence on the database, so forms survive a restart."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from school.clock import Clock
from storage import persisted_state, update_inbox
from storage.database import Database
from storage.persisted_state import StateKey

log = logging.getLogger(__name__)

CONVERSATION = "conversation:"  # the kind of a conversation's states: conversation:<its name>
UserData = dict[str, Any]
ChatData = dict[str, Any]
BotDataDict = dict[str, Any]
# The shapes BasePersistence documents for conversations and callback data (spelled out here:
# python-telegram-bot's own aliases live in a private module).
ConversationKey = tuple[int | str, ...]
ConversationDict = MutableMapping[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]


def _encode(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


EMPTY = _encode({})

# The inbox update being handled in this task (HOUQIN_SCALE_OUT: bot.inbox), recorded handled
# with the state it leaves (HouqinApplication.process_update).
INBOX_UPDATE: ContextVar[int | None] = ContextVar("houqin_inbox_update", default=None)


class DatabasePersistence(BasePersistence[UserData, ChatData, BotDataDict]):
    """Stores user data, chat data and conversation states as JSON rows.

    Bot data is not persisted (it holds the live services) and neither is arbitrary
    callback data (buttons carry short, self-describing strings instead).

    python-telegram-bot hands over changes one entry at a time; they are staged here and
    written by :meth:`commit`, all in one transaction. The application commits after every
    update, so concurrent updates share one write (a group commit) instead of queueing for
    SQLite's single writer one entry at a time. Data identical to what is stored is skipped.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, callback_data=False),
            update_interval=5,
        )
        self._database = database
        self._clock = clock
        self._written: dict[StateKey, str] = {}  # what the database holds, encoded
        self._staged: dict[StateKey, str | None] = {}  # to write; None: to delete
        self._commit_lock = asyncio.Lock()
        self._handled: list[int] = []  # inbox updates to record handled with the state

    def handled_with_state(self, update_id: int) -> None:
        """Record the inbox's update handled in the same transaction as the state it leaves
        (HOUQIN_SCALE_OUT: see bot.inbox), so a crash never keeps one without the other."""
        self._handled.append(update_id)

    async def _load(self, kind: str) -> dict[str, Any]:
        async with self._database.reading() as session:
            rows = await persisted_state.load_kind(session, kind)
        for key, data in rows.items():
            self._written[(kind, key)] = _encode(data)
        return rows

    def _stage(self, kind: str, key: str, encoded: str | None) -> None:
        entry = (kind, key)
        known = self._staged[entry] if entry in self._staged else self._written.get(entry)
        if encoded == known or (known is None and encoded == EMPTY):
            return  # unchanged, or still empty: nothing to write
        self._staged[entry] = encoded

    async def commit(self) -> None:
        """Write everything staged so far in one transaction.

        A caller that arrives while a write is running waits for it, then writes what is
        still staged: when this returns, every change staged before the call is committed.
        If the write fails, the changes stay staged for the next commit.
        """
        async with self._commit_lock:
            staged, self._staged = self._staged, {}
            handled, self._handled = self._handled, []
            if not staged and not handled:
                return
            changes = {
                entry: persisted_state.REMOVED if encoded is None else json.loads(encoded)
                for entry, encoded in staged.items()
            }
            try:
                async with self._database.connection() as connection:
                    now = self._clock.now()
                    if changes:
                        await persisted_state.write(connection, changes, now=now)
                    for update_id in handled:
                        await update_inbox.mark_handled(connection, update_id, now=now)
            except BaseException:
                self._staged = staged | self._staged
                self._handled = handled + self._handled
                raise
            for entry, encoded in staged.items():
                if encoded is None:
                    self._written.pop(entry, None)
                else:
                    self._written[entry] = encoded

    @staticmethod
    def conversation_key(key: ConversationKey) -> str:
        """How a conversation's key is stored."""
        return json.dumps(list(key))

    async def reload(self, entries: Collection[StateKey]) -> dict[StateKey, Any]:
        """Read these entries from the database, as another process may have written them
        (HOUQIN_SCALE_OUT: see bot.inbox); what is not stored is left out. Later writes
        compare with what was read."""
        await self.commit()  # nothing of ours is left unwritten
        async with self._database.reading_connection() as connection:
            stored = await persisted_state.load_entries(connection, entries)
        for entry in entries:
            if entry in stored:
                self._written[entry] = _encode(stored[entry])
            else:
                self._written.pop(entry, None)
        return stored

    async def drop_unused(self, conversations: Mapping[str, Collection[object]]) -> list[str]:
        """Before the application loads its state: delete what no conversation uses any more.

        `conversations` maps each persistent conversation's name to its states. The rows of
        any other conversation (those of earlier releases: "tickets", "worklogs",
        "inspection_walk", "appraisal_rate" before the form owner) are deleted, and so are the
        keys whose state is no longer one of their conversation's. Returns what was dropped,
        as "<conversation>" or "<conversation> <key>".
        """
        dropped: list[str] = []
        async with self._database.transaction() as session:
            for kind in await persisted_state.kinds(session):
                if not kind.startswith(CONVERSATION):
                    continue
                name = kind.removeprefix(CONVERSATION)
                if name not in conversations:
                    await persisted_state.drop_kind(session, kind)
                    dropped.append(name)
                    continue
                rows = await persisted_state.load_kind(session, kind)
                stale = {
                    (kind, key): persisted_state.REMOVED
                    for key, state in rows.items()
                    if state not in conversations[name]
                }
                await persisted_state.write(session, stale, now=self._clock.now())
                dropped += [f"{name} {key}" for _kind, key in stale]
        if dropped:
            log.info("dropped saved conversation state no longer used: %s", ", ".join(dropped))
        return dropped

    async def get_user_data(self) -> dict[int, UserData]:
        return {int(key): dict(data or {}) for key, data in (await self._load("user")).items()}

    async def get_chat_data(self) -> dict[int, ChatData]:
        return {int(key): dict(data or {}) for key, data in (await self._load("chat")).items()}

    async def get_bot_data(self) -> BotDataDict:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await self._load(f"{CONVERSATION}{name}")
        return {tuple(json.loads(key)): state for key, state in rows.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        encoded = None if new_state is None else _encode(new_state)
        self._stage(f"{CONVERSATION}{name}", self.conversation_key(key), encoded)

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        self._stage("user", str(user_id), _encode(data))

    async def update_chat_data(self, chat_id: int, data: ChatData) -> None:
        self._stage("chat", str(chat_id), _encode(data))

    async def update_bot_data(self, data: BotDataDict) -> None:
        """Bot data is not persisted."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Callback data is not persisted."""

    async def drop_chat_data(self, chat_id: int) -> None:
        self._stage("chat", str(chat_id), None)

    async def drop_user_data(self, user_id: int) -> None:
        self._stage("user", str(user_id), None)

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """The database is only written by this process; nothing to refresh."""

    async def refresh_chat_data(self, chat_id: int, chat_data: ChatData) -> None:
        """The database is only written by this process; nothing to refresh."""

    async def refresh_bot_data(self, bot_data: BotDataDict) -> None:
        """Bot data is not persisted."""

    async def flush(self) -> None:
        """Commit what is staged (python-telegram-bot calls this on shutdown)."""
        await self.commit()
