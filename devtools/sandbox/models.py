"""Observation records of the sandbox: messages, callback answers and the event log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Sender = int | Literal["bot"]


@dataclass
class MessageVersion:
    """A former version of an edited message."""

    date: int
    text: str | None
    raw_text: str | None
    caption: str | None
    reply_markup: dict[str, Any] | None


@dataclass
class SentMessage:
    """A message in a sandbox chat, sent by the bot or by a sandbox user."""

    chat_id: int
    message_id: int
    sender: Sender
    date: int
    text: str | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: str | None = None
    document_name: str | None = None
    document_bytes: bytes | None = field(default=None, repr=False)
    kind: str = "text"
    reply_to: int | None = None
    media_group_id: str | None = None
    edits: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    data: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def from_bot(self) -> bool:
        """True if the bot sent this message."""
        return self.sender == "bot"

    @property
    def voice(self) -> dict[str, Any] | None:
        """The Voice object of a voice message (file_id, duration), or None."""
        voice = self.data.get("voice")
        return voice if isinstance(voice, dict) else None

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of raw inline keyboard buttons (empty if none)."""
        if self.reply_markup and isinstance(self.reply_markup.get("inline_keyboard"), list):
            return self.reply_markup["inline_keyboard"]
        return []

    @property
    def buttons(self) -> list[list[str]]:
        """Rows of inline button texts."""
        return [[str(b.get("text", "")) for b in row] for row in self.inline_keyboard]

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Rows of reply keyboard texts when reply_markup is a ReplyKeyboardMarkup."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return None
        return [
            [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
            for row in self.reply_markup["keyboard"]
        ]

    @property
    def shown_text(self) -> str:
        """Text or caption, whichever the message has."""
        return self.text if self.text is not None else self.caption or ""

    def button(self, text: str) -> dict[str, Any]:
        """Return the inline button with this visible text (exact, else unique substring)."""
        flat = [b for row in self.inline_keyboard for b in row]
        exact = [b for b in flat if b.get("text") == text]
        if len(exact) == 1:
            return exact[0]
        partial = [b for b in flat if text in str(b.get("text", ""))]
        if not exact and len(partial) == 1:
            return partial[0]
        available = " | ".join(str(b.get("text")) for b in flat) or "(no inline buttons)"
        problem = "is ambiguous" if len(exact) > 1 or len(partial) > 1 else "not found"
        raise LookupError(
            f"button {text!r} {problem} on message {self.message_id} in chat {self.chat_id}; "
            f"available: {available}"
        )


@dataclass
class CallbackAnswer:
    """What the bot answered to a callback query."""

    callback_query_id: str
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass
class Event:
    """One entry of the sandbox's global event log (see ``BotApiSandbox.transcript``)."""

    seq: int
    kind: str  # message, edit, delete, press, callback_answer, member, block, rejected
    chat_id: int | None
    actor: Sender
    message: SentMessage | None = None
    text: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
