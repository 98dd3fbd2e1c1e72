"""Telegram's flood limits, kept per chat: how soon each chat may be sent its next message.

Telegram takes about 20 messages a minute in a group and answers 429 (retry after N seconds)
past that, or past its other limits. A `Pacer` remembers, per chat, the messages sent in the
last window and any 429's pause, so that one slow chat is held back alone: the outbox skips a
chat that is not ready and sends to the others meanwhile (notices.outbox), and the bot's rate
limiter (bot.rate_limit) makes a direct answer in a group wait for that group's turn instead
of pausing every chat.

Time is the event loop's monotonic clock (Telegram's limits are real time, whatever clock the
school's data runs on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """At most `messages` messages in any `seconds` seconds."""

    messages: int
    seconds: float


# Telegram's limit for groups: 20 messages per minute.
GROUP_LIMIT = Window(20, 60.0)

# Set while the outbox sends: the rate limiter then neither waits for the chat's turn (the
# outbox checked it and sends to other chats meanwhile) nor retries a 429 itself (the outbox
# leaves the message due and skips that chat until the pause is over).
QUEUED: ContextVar[bool] = ContextVar("houqin_outbox_sending", default=False)


class _Stamp:
    """One message counted in a chat's window: when it went (updated when it was answered)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class Pacer:
    """Per-chat windows (groups only: private chats are paced by Telegram's 429s alone) and
    429 pauses (any chat)."""

    def __init__(
        self, group: Window | None = GROUP_LIMIT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.group = group
        self._clock = clock
        self._sent: dict[int, list[_Stamp]] = {}
        self._paused: dict[int, float] = {}

    def now(self) -> float:
        """The pacer's clock."""
        return self._clock()

    def _window(self, chat_id: int) -> Window | None:
        return self.group if chat_id < 0 else None

    def ready_at(self, chat_id: int, now: float | None = None) -> float:
        """When `chat_id` may be sent its next message (`now`, or later)."""
        now = self._clock() if now is None else now
        ready = self._paused.get(chat_id, now)
        if ready <= now:
            self._paused.pop(chat_id, None)
            ready = now
        window = self._window(chat_id)
        stamps = self._sent.get(chat_id)
        if window is not None and stamps:
            stamps[:] = [s for s in stamps if s.at > now - window.seconds]
            if len(stamps) >= window.messages:
                times = sorted(s.at for s in stamps)
                ready = max(ready, times[len(times) - window.messages] + window.seconds)
            elif not stamps:
                del self._sent[chat_id]
        return ready

    def pause_ends(self, chat_id: int) -> float:
        """When a 429's pause of `chat_id` ends (now if it is not paused)."""
        now = self._clock()
        return max(now, self._paused.get(chat_id, now))

    def ready(self, chat_id: int) -> bool:
        """Whether `chat_id` may be sent a message now."""
        now = self._clock()
        return self.ready_at(chat_id, now) <= now

    def blocked(self) -> dict[int, float]:
        """The chats that may not be sent to now, with when they may."""
        now = self._clock()
        chats = {*self._paused, *self._sent}
        return {chat: at for chat in chats if (at := self.ready_at(chat, now)) > now}

    def reserve(self, chat_id: int, count: int = 1) -> list[_Stamp]:
        """Count `count` messages being sent to `chat_id` now (nothing for a private chat)."""
        if self._window(chat_id) is None:
            return []
        stamps = [_Stamp(self._clock()) for _ in range(count)]
        self._sent.setdefault(chat_id, []).extend(stamps)
        return stamps

    def confirm(self, stamps: list[_Stamp]) -> None:
        """The request was answered: its messages count from now (Telegram counts from when
        it took them, which is no later than the answer)."""
        now = self._clock()
        for stamp in stamps:
            stamp.at = now

    def release(self, chat_id: int, stamps: list[_Stamp]) -> None:
        """The request was refused (429): its messages do not count."""
        kept = self._sent.get(chat_id)
        if kept is not None:
            kept[:] = [s for s in kept if s not in stamps]

    def pause(self, chat_id: int, seconds: float) -> None:
        """Telegram answered 429 for `chat_id`: nothing more to it for `seconds`."""
        until = self._clock() + seconds
        self._paused[chat_id] = max(self._paused.get(chat_id, until), until)
