"""Sandbox users and groups: the acting side of tests and demos."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devtools.sandbox.models import CallbackAnswer, SentMessage

if TYPE_CHECKING:
    from devtools.sandbox.server import BotApiSandbox

MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
_media_groups = itertools.count(13_000_000_000_000_001)


@dataclass(eq=False)
class SandboxGroup:
    """A group or supergroup chat; ``members`` maps user id to a ChatMember status."""

    sandbox: BotApiSandbox = field(repr=False)
    id: int
    title: str
    supergroup: bool = True
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "left"

    @property
    def chat_type(self) -> str:
        """Bot API chat type."""
        return "supergroup" if self.supergroup else "group"

    def add_member(self, user: SandboxUser, *, status: str = "member") -> None:
        """Make ``user`` a member (or administrator/creator) of the group."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.members[user.id] = status

    def remove_member(self, user: SandboxUser) -> None:
        """Mark ``user`` as having left the group."""
        self.members[user.id] = "left"

    def status_of(self, user_id: int) -> str:
        """ChatMember status of a user (or of the bot) in this group."""
        if user_id == self.sandbox.bot_id:
            return self.bot_status
        return self.members.get(user_id, "left")

    def chat_dict(self) -> dict[str, Any]:
        """Bot API Chat object."""
        return {"id": self.id, "type": self.chat_type, "title": self.title}


@dataclass(eq=False)
class SandboxUser:
    """A Telegram user acting against the bot."""

    sandbox: BotApiSandbox = field(repr=False)
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    started: bool = False
    blocked: bool = False

    @property
    def name(self) -> str:
        """Display name."""
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    @property
    def private_chat_id(self) -> int:
        """Id of the private chat with the bot (equal to the user id)."""
        return self.id

    def user_dict(self) -> dict[str, Any]:
        """Bot API User object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat_dict(self) -> dict[str, Any]:
        """Bot API Chat object of the private chat."""
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    async def send(
        self,
        text: str,
        *,
        chat: SandboxGroup | None = None,
        reply_to: SentMessage | None = None,
        settle: bool = True,
    ) -> SentMessage:
        """Send a text message (privately, or to ``chat``); commands get a bot_command entity."""
        return await self.sandbox.user_message(
            self, chat, {"text": text}, reply_to=reply_to, settle=settle
        )

    async def send_photo(
        self,
        *,
        chat: SandboxGroup | None = None,
        caption: str | None = None,
        reply_to: SentMessage | None = None,
        settle: bool = True,
        image: bytes | None = None,
    ) -> SentMessage:
        """Send a photo (fresh file_id; `image`, or fake JPEG bytes, downloadable through
        getFile)."""
        content: dict[str, Any] = {
            "photo": self.sandbox.new_photo_sizes(image, uploaded_by_user=True)
        }
        if caption is not None:
            content["caption"] = caption
        return await self.sandbox.user_message(
            self, chat, content, reply_to=reply_to, settle=settle
        )

    async def send_album(
        self,
        count: int,
        *,
        chat: SandboxGroup | None = None,
        caption: str | None = None,
        interval: float = 0.0,
        settle: bool = True,
    ) -> list[SentMessage]:
        """Send ``count`` photos as one album, as Telegram delivers it: a burst of photo
        messages sharing a ``media_group_id``, the caption on the first. ``interval``: seconds
        between them (a phone uploads them one by one, so the bot may fetch them in several
        getUpdates batches); 0 queues them all at once."""
        if not 2 <= count <= 10:
            raise ValueError("an album holds 2 to 10 photos")
        group_id = str(next(_media_groups))
        sent = []
        for index in range(count):
            content: dict[str, Any] = {
                "photo": self.sandbox.new_photo_sizes(uploaded_by_user=True),
                "media_group_id": group_id,
            }
            if index == 0 and caption is not None:
                content["caption"] = caption
            if index and interval:
                await asyncio.sleep(interval)
            sent.append(await self.sandbox.user_message(self, chat, content, settle=False))
        if settle:
            await self.sandbox.settle()
        return sent

    async def send_sticker(
        self, *, chat: SandboxGroup | None = None, emoji: str = "👍", settle: bool = True
    ) -> SentMessage:
        """Send a sticker."""
        file = self.sandbox.new_file(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "stickers", "webp")
        sticker = {
            **file,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self.sandbox.user_message(self, chat, {"sticker": sticker}, settle=settle)

    async def send_voice(
        self, *, chat: SandboxGroup | None = None, duration: int = 3, settle: bool = True
    ) -> SentMessage:
        """Send a voice note."""
        voice = self.sandbox.new_voice(duration)
        return await self.sandbox.user_message(self, chat, {"voice": voice}, settle=settle)

    async def send_document(
        self,
        *,
        chat: SandboxGroup | None = None,
        file_name: str = "document.pdf",
        content: bytes = b"%PDF-1.4\n%sandbox\n",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        settle: bool = True,
    ) -> SentMessage:
        """Send a document with the given name and bytes."""
        file = self.sandbox.new_file(content, "documents", file_name.rsplit(".", 1)[-1])
        document = {**file, "file_name": file_name, "mime_type": mime_type}
        payload: dict[str, Any] = {"document": document}
        if caption is not None:
            payload["caption"] = caption
        return await self.sandbox.user_message(self, chat, payload, settle=settle)

    async def press(
        self, message: SentMessage, button_text: str, *, settle: bool = True
    ) -> CallbackAnswer | None:
        """Press an inline button; return the bot's callback answer (None if unanswered)."""
        return await self.sandbox.press_button(self, message, button_text, settle=settle)

    async def start_bot(self, payload: str | None = None, *, settle: bool = True) -> SentMessage:
        """Send ``/start [payload]`` in the private chat."""
        return await self.send(f"/start {payload}" if payload else "/start", settle=settle)

    async def block_bot(self, *, settle: bool = True) -> None:
        """Block the bot: later sends to this user fail with 403."""
        await self.sandbox.block(self, settle=settle)
