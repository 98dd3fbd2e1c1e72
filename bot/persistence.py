"""python-telegram-bot persistence on the database, so forms survive a restart."""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from bot.clock import Clock
from storage import persisted_state
from storage.database import Database

UserData = dict[str, Any]
ChatData = dict[str, Any]
BotDataDict = dict[str, Any]


def _encode(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


class DatabasePersistence(BasePersistence[UserData, ChatData, BotDataDict]):
    """Stores user data, chat data and conversation states as JSON rows.

    Bot data is not persisted (it holds the live services) and neither is arbitrary
    callback data (buttons carry short, self-describing strings instead). Each write is its
    own short transaction; identical data is not written again.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, callback_data=False),
            update_interval=5,
        )
        self._database = database
        self._clock = clock
        self._written: dict[tuple[str, str], str] = {}

    async def _load(self, kind: str) -> dict[str, Any]:
        async with self._database.transaction() as session:
            rows = await persisted_state.load_kind(session, kind)
        for key, data in rows.items():
            self._written[(kind, key)] = _encode(data)
        return rows

    async def _save(self, kind: str, key: str, data: Any) -> None:
        encoded = _encode(data)
        if self._written.get((kind, key), _encode({})) == encoded:
            return  # unchanged, or still empty: nothing to write
        async with self._database.transaction() as session:
            await persisted_state.save(
                session, kind=kind, key=key, data=data, now=self._clock.now()
            )
        self._written[(kind, key)] = encoded

    async def _remove(self, kind: str, key: str) -> None:
        async with self._database.transaction() as session:
            await persisted_state.remove(session, kind=kind, key=key)
        self._written.pop((kind, key), None)

    async def get_user_data(self) -> dict[int, UserData]:
        return {int(key): dict(data or {}) for key, data in (await self._load("user")).items()}

    async def get_chat_data(self) -> dict[int, ChatData]:
        return {int(key): dict(data or {}) for key, data in (await self._load("chat")).items()}

    async def get_bot_data(self) -> BotDataDict:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await self._load(f"conversation:{name}")
        return {tuple(json.loads(key)): state for key, state in rows.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        encoded_key = json.dumps(list(key))
        if new_state is None:
            await self._remove(f"conversation:{name}", encoded_key)
        else:
            await self._save(f"conversation:{name}", encoded_key, new_state)

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        await self._save("user", str(user_id), deepcopy(data))

    async def update_chat_data(self, chat_id: int, data: ChatData) -> None:
        await self._save("chat", str(chat_id), deepcopy(data))

    async def update_bot_data(self, data: BotDataDict) -> None:
        """Bot data is not persisted."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Callback data is not persisted."""

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._remove("chat", str(chat_id))

    async def drop_user_data(self, user_id: int) -> None:
        await self._remove("user", str(user_id))

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """The database is only written by this process; nothing to refresh."""

    async def refresh_chat_data(self, chat_id: int, chat_data: ChatData) -> None:
        """The database is only written by this process; nothing to refresh."""

    async def refresh_bot_data(self, bot_data: BotDataDict) -> None:
        """Bot data is not persisted."""

    async def flush(self) -> None:
        """Every write is committed at once; nothing is buffered."""
