"""A local emulation of the Telegram Bot API over HTTP, for tests and demos.

The bot talks to it through python-telegram-bot's ``base_url``/``base_file_url``; tests act as
users through :class:`~devtools.sandbox.actors.SandboxUser` in the same event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import CallbackAnswer, Event, MessageVersion, Sender, SentMessage
from devtools.sandbox.spec import BotApiSpec, visible_text
from devtools.sandbox.transcript import describe_message, format_event

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]

QUIET_PERIOD = 0.03
DEFAULT_UPDATES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "my_chat_member",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "chat_join_request",
)
SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendVoice",
        "copyMessage",
        "forwardMessage",
    }
)
ACTIVE_STATUSES = ("creator", "administrator", "member", "restricted")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]+)?")
_FAKE_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + bytes(range(256))
    + b"\xff\xd9"
)


class ApiError(Exception):
    """An error response of the Bot API."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JsonDict:
        """Bot API error body."""
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class _DropConnection(Exception):
    """Raised to close the connection without answering."""


@dataclass
class Upload:
    """A file uploaded in a multipart request."""

    filename: str | None
    content: bytes
    content_type: str | None


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    remaining: int
    delay: float
    chat_id: int | None = None  # only calls to this chat; None: any


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


class _Bucket:
    """Token bucket used for the optional flood limits."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


Chat = SandboxUser | SandboxGroup


class BotApiSandbox:
    """An in-process Telegram Bot API server with scripted users and groups."""

    def __init__(
        self,
        *,
        token: str = "123456:SANDBOX",
        bot_username: str = "houqin_bot",
        bot_name: str = "后勤通",
        enforce_limits: bool = False,
        latency: float | tuple[float, float] = 0.0,
        group_limit: tuple[int, float] = (20, 60.0),
    ) -> None:
        """`latency`: how long every Bot API call takes on the way, in seconds, as Telegram's
        servers are some way off (about 0.25 s from China): a fixed time, or a (low, high)
        range drawn uniformly per call. Half of it passes before the call takes effect and
        half after, so a bot can be stopped after Telegram took a message and before the
        answer arrived, as with the real Bot API.

        `enforce_limits`: answer 429 past Telegram's flood limits: 30 messages/s overall,
        about 1/s per private chat, and `group_limit` (messages, seconds) per group, 20 a
        minute as Telegram counts it: past the 20th, retry after the time until the oldest
        of them is a minute old (tests may shorten the minute)."""
        self.token = token
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.enforce_limits = enforce_limits
        self.latency = latency
        self.group_limit = group_limit
        self.bot_id = int(token.split(":", 1)[0])
        self.spec = BotApiSpec.load()
        self.users: dict[int, SandboxUser] = {}
        self.groups: dict[int, SandboxGroup] = {}
        self.requests: list[tuple[str, JsonDict, int]] = []
        self.rejected: list[tuple[str, JsonDict, str]] = []
        self.stats: Counter[str] = Counter()
        self.events: list[Event] = []
        self.emitted_updates: list[JsonDict] = []
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.extra_idle_checks: list[Callable[[], bool]] = []
        self.webhook: JsonDict = {}
        self.menu_buttons: dict[int | None, JsonDict] = {}
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        # setMyDescription / setMyShortDescription by ("long" | "short", language code)
        self.descriptions: dict[tuple[str, str], str] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._order: list[SentMessage] = []
        self._counters: Counter[int] = Counter()
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, _StoredFile] = {}
        self._photo_sets: dict[str, list[JsonDict]] = {}
        self._documents: dict[str, JsonDict] = {}
        self._voices: dict[str, JsonDict] = {}  # file id -> Voice object
        self._file_seq = 0
        self._pending: list[JsonDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._update_signal = asyncio.Event()
        self._event_signal = asyncio.Event()
        self._in_flight = 0
        self._activity = 0
        self._callback_seq = 0
        self._open_queries: set[str] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._group_sent: dict[int, list[float]] = {}
        self._keyboards: dict[int, list[list[str]]] = {}
        self._next_user_id = 1001
        self._next_group_seq = 1
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._closing = False
        self._webhook_backlog: list[JsonDict] = []
        # Stands in for a reverse proxy (nginx) in front of several bot workers: when set,
        # webhook deliveries go to these addresses in turn instead of the registered URL.
        self.webhook_upstreams: list[str] = []
        self._webhook_turn = 0
        self.webhook_deliveries: list[tuple[int, str]] = []  # (update_id, address) answered 200
        self._webhook_task: asyncio.Task[None] | None = None
        self._handlers: dict[str, Callable[[JsonDict, dict[str, Upload]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._ok,
            "close": self._ok,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "sendVoice": self._send_voice,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "leaveChat": self._leave_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_description,
            "getMyShortDescription": self._get_my_short_description,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getFile": self._get_file,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving on ``host:port`` (port 0 picks a free port)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_post("/sandbox/send", self._control_send)
        app.router.add_post("/sandbox/press", self._control_press)
        app.router.add_get("/sandbox/transcript", self._control_transcript)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._host = host
        self._port = sockets[0].getsockname()[1] if sockets else port
        log.info("Bot API sandbox listening on %s", self.base_url)

    async def stop(self) -> None:
        """Stop serving; pending long polls return immediately."""
        self._closing = True
        self._update_signal.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port served on."""
        return self._port

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url`` (the token is appended by the library)."""
        return f"http://{self._host}:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder().base_file_url``."""
        return f"http://{self._host}:{self._port}/file/bot"

    @property
    def bot_user(self) -> JsonDict:
        """The bot's User object as returned by getMe."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def watch_application(self, app: Any) -> None:
        """Make :meth:`settle` also wait for a python-telegram-bot Application to be idle."""

        def idle() -> bool:
            processor = getattr(app, "update_processor", None)
            busy = getattr(processor, "current_concurrent_updates", 0) if processor else 0
            return bool(app.update_queue.empty()) and busy == 0

        self.extra_idle_checks.append(idle)

    # ----------------------------------------------------------------- actors

    def add_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> SandboxUser:
        """Create a user (ids count up from 1001)."""
        user = SandboxUser(
            self,
            self._next_user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self._next_user_id += 1
        self.users[user.id] = user
        return user

    def add_group(
        self, title: str, *, members: list[SandboxUser] | tuple[()] = (), supergroup: bool = True
    ) -> SandboxGroup:
        """Create a group; the bot is not in it until :meth:`add_bot_to_group`."""
        seq = self._next_group_seq
        self._next_group_seq += 1
        gid = -1001000000000 - seq if supergroup else -4000000000 - seq
        group = SandboxGroup(self, gid, title, supergroup=supergroup)
        for user in members:
            group.add_member(user)
        self.groups[gid] = group
        return group

    async def add_bot_to_group(
        self, group: SandboxGroup, *, by: SandboxUser, as_admin: bool = False, settle: bool = True
    ) -> None:
        """Add the bot to ``group``: emits my_chat_member and a new_chat_members message."""
        if group.members.get(by.id) not in ACTIVE_STATUSES:
            group.add_member(by)
        old = group.bot_status
        group.bot_status = "administrator" if as_admin else "member"
        self._emit_my_chat_member(group.chat_dict(), by.user_dict(), old, group.bot_status)
        msg = self._store_message(
            group.id, by.id, {"new_chat_members": [self.bot_user]}, kind="new_chat_members"
        )
        msg.data["from"] = by.user_dict()
        self._log_event("member", group.id, by.id, text=f"{by.name} 把 {self.bot_name} 加入群组")
        self._emit({"message": msg.data})
        if settle:
            await self.settle()

    async def remove_bot_from_group(
        self, group: SandboxGroup, *, by: SandboxUser, kick: bool = True, settle: bool = True
    ) -> None:
        """Remove the bot from ``group`` (status kicked, or left with ``kick=False``)."""
        old = group.bot_status
        group.bot_status = "kicked" if kick else "left"
        self._emit_my_chat_member(group.chat_dict(), by.user_dict(), old, group.bot_status)
        self._log_event("member", group.id, by.id, text=f"{by.name} 把 {self.bot_name} 移出群组")
        if settle:
            await self.settle()

    async def block(self, user: SandboxUser, *, settle: bool = True) -> None:
        """``user`` blocks the bot (emits my_chat_member member→kicked)."""
        user.blocked = True
        self._emit_my_chat_member(user.chat_dict(), user.user_dict(), "member", "kicked")
        self._log_event("block", user.id, user.id, text=f"{user.name} 屏蔽了 {self.bot_name}")
        if settle:
            await self.settle()

    async def user_message(
        self,
        user: SandboxUser,
        group: SandboxGroup | None,
        content: JsonDict,
        *,
        reply_to: SentMessage | None = None,
        settle: bool = True,
    ) -> SentMessage:
        """Post a message from ``user`` and deliver it to the bot as an update."""
        deliver = True
        if group is None:
            if user.blocked:
                user.blocked = False
                self._emit_my_chat_member(user.chat_dict(), user.user_dict(), "kicked", "member")
            user.started = True
            chat_id = user.id
        else:
            if group.members.get(user.id) not in ACTIVE_STATUSES:
                group.add_member(user)
            chat_id = group.id
            deliver = group.bot_status in ACTIVE_STATUSES
        content = dict(content)
        text = content.get("text")
        if isinstance(text, str):
            match = _COMMAND_RE.match(text)
            if match:
                length = len(match.group(0).encode("utf-16-le")) // 2
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        msg = self._store_message(chat_id, user.id, content, kind=_kind_of(content))
        msg.data["from"] = user.user_dict()
        if reply_to is not None:
            msg.reply_to = reply_to.message_id
            msg.data["reply_to_message"] = _without_reply(reply_to.data)
        self._log_event("message", chat_id, user.id, message=msg)
        if deliver:
            self._emit({"message": msg.data})
        if settle:
            await self.settle()
        return msg

    async def press_button(
        self, user: SandboxUser, message: SentMessage, button_text: str, *, settle: bool = True
    ) -> CallbackAnswer | None:
        """Press an inline button of the latest version of ``message``."""
        current = self._messages.get((message.chat_id, message.message_id), message)
        if current.deleted:
            raise LookupError(f"message {message.message_id} in chat {message.chat_id} is deleted")
        button = current.button(button_text)
        self._log_event("press", current.chat_id, user.id, text=str(button.get("text")))
        if "callback_data" not in button:
            return None
        self._callback_seq += 1
        query_id = f"{self.bot_id}{self._callback_seq:08d}"
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user.user_dict(),
            "message": current.data,
            "chat_instance": str(abs(current.chat_id) * 7919 % 10**12),
            "data": button["callback_data"],
        }
        self._emit({"callback_query": query})
        if not settle:
            return None
        await self.settle()
        return self.callback_answers.get(query_id)

    # ----------------------------------------------------------------- observing

    def mark(self) -> int:
        """Position in the event log, for :meth:`bot_messages_since` and :meth:`transcript`."""
        return len(self.events)

    def messages(
        self, chat_id: int | None = None, *, from_bot: bool | None = None
    ) -> list[SentMessage]:
        """Messages (including deleted ones) in sending order, optionally filtered."""
        return [
            m
            for m in self._order
            if (chat_id is None or m.chat_id == chat_id)
            and (from_bot is None or m.from_bot == from_bot)
        ]

    def last_message(self, chat_id: int, from_bot: bool | None = True) -> SentMessage:
        """The latest non-deleted message of a chat; raises LookupError if there is none."""
        for msg in reversed(self.messages(chat_id, from_bot=from_bot)):
            if not msg.deleted:
                return msg
        raise LookupError(f"no message in chat {chat_id}; recent:\n{self._dump(chat_id)}")

    def bot_messages_since(self, marker: int) -> list[SentMessage]:
        """Bot messages sent or edited after ``marker``, ordered by their first such event."""
        seen: dict[tuple[int, int], SentMessage] = {}
        for event in self.events[marker:]:
            msg = event.message
            if event.kind in ("message", "edit") and msg is not None and msg.from_bot:
                seen.setdefault((msg.chat_id, msg.message_id), msg)
        return list(seen.values())

    def reply_keyboard(self, chat_id: int) -> list[list[str]] | None:
        """The reply keyboard currently shown in a chat, if any."""
        return self._keyboards.get(chat_id)

    def commands(self, scope: JsonDict | None = None, language_code: str = "") -> list[JsonDict]:
        """Commands stored by setMyCommands for a scope and language."""
        return list(self._commands.get((_scope_key(scope), language_code), []))

    def file_content(self, file_id: str) -> bytes:
        """Bytes stored for a file id."""
        return self._files[file_id].content

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int | None = None,
    ) -> SentMessage:
        """Wait for a new or edited bot message in ``chat_id`` matching ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pos = self.mark() if since is None else since
        while True:
            for event in self.events[pos:]:
                msg = event.message
                if (
                    event.kind in ("message", "edit")
                    and msg is not None
                    and msg.from_bot
                    and msg.chat_id == chat_id
                    and (predicate is None or predicate(msg))
                ):
                    return msg
            pos = len(self.events)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"no matching bot message in chat {chat_id} within {timeout}s; "
                    f"recent:\n{self._dump(chat_id)}"
                )
            signal = self._event_signal
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), remaining)

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot fetched every update, no request runs and idle checks pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet_since: float | None = None
        activity = self._activity
        while True:
            now = loop.time()
            idle = (
                not self._pending
                and not self._webhook_backlog
                and self._in_flight == 0
                and all(check() for check in self.extra_idle_checks)
            )
            if not idle or activity != self._activity:
                quiet_since = None
                activity = self._activity
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_PERIOD:
                return
            if now > deadline:
                checks = [check() for check in self.extra_idle_checks]
                raise TimeoutError(
                    f"sandbox did not settle within {timeout}s: {len(self._pending)} "
                    f"unacknowledged updates (is the bot polling?), {self._in_flight} requests "
                    f"in flight, idle checks {checks}"
                )
            await asyncio.sleep(0.005)

    def transcript(self, since: int = 0) -> list[str]:
        """Readable lines for the events after ``since``."""
        lines = (format_event(e, self._chat_name, self._actor_name) for e in self.events[since:])
        return [line for line in lines if line is not None]

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        retry_after: int | None = None,
        count: int = 1,
        delay: float = 0.0,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (to ``chat_id``, if given) fail; status
        0 drops the connection."""
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = _Fault(status, retry_after, count, delay, chat_id)
        self._faults.setdefault(method.lower(), []).append(fault)

    # ----------------------------------------------------------------- internals: state

    def _chat_name(self, chat_id: int) -> str:
        if chat_id in self.users:
            return self.users[chat_id].name
        if chat_id in self.groups:
            return self.groups[chat_id].title
        return str(chat_id)

    def _actor_name(self, actor: int | str) -> str:
        if actor == "bot":
            return self.bot_name
        return self._chat_name(int(actor))

    def _dump(self, chat_id: int, count: int = 10) -> str:
        msgs = self.messages(chat_id)[-count:]
        if not msgs:
            return "  (no messages)"
        return "\n".join(
            f"  #{m.message_id} {self._actor_name(m.sender)}: {describe_message(m)}"
            + (" (deleted)" if m.deleted else "")
            for m in msgs
        )

    def _touch(self) -> None:
        self._activity += 1

    def _log_event(
        self,
        kind: str,
        chat_id: int | None,
        actor: Sender,
        *,
        message: SentMessage | None = None,
        text: str = "",
        detail: JsonDict | None = None,
    ) -> Event:
        detail = dict(detail or {})
        if message is not None:
            detail.setdefault("body", describe_message(message))
        event = Event(len(self.events), kind, chat_id, actor, message, text, detail)
        self.events.append(event)
        self._touch()
        signal, self._event_signal = self._event_signal, asyncio.Event()
        signal.set()
        return event

    def _emit(self, payload: JsonDict) -> None:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self.emitted_updates.append(update)
        if self.webhook.get("url"):
            self._webhook_backlog.append(update)
            self._start_webhook_delivery()
        else:
            self._pending.append(update)
        self._touch()
        self._update_signal.set()

    # ----------------------------------------------------------------- webhook delivery

    def _start_webhook_delivery(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())

    def redeliver(self, update: JsonDict) -> None:
        """Send an update to the webhook again, as Telegram does when it did not see the
        answer (a time-out, a worker that died while answering)."""
        self._webhook_backlog.append(update)
        self._start_webhook_delivery()

    def _webhook_target(self) -> str:
        """The registered URL, or the next of `webhook_upstreams` (round robin)."""
        if not self.webhook_upstreams:
            return str(self.webhook["url"])
        self._webhook_turn += 1
        return self.webhook_upstreams[self._webhook_turn % len(self.webhook_upstreams)]

    async def _deliver_webhooks(self) -> None:
        """POST queued updates to the webhook in order, retrying like Telegram does."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            while self._webhook_backlog and self.webhook.get("url"):
                update = self._webhook_backlog[0]
                headers = {"Content-Type": "application/json"}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
                target = self._webhook_target()
                self._in_flight += 1
                try:
                    async with session.post(
                        target,
                        data=json.dumps(update),
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=10),
                    ) as response:
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = 0
                    self.webhook["last_error_message"] = str(exc)
                finally:
                    self._in_flight -= 1
                if status == 200:
                    self._webhook_backlog.pop(0)
                    self.webhook_deliveries.append((int(update["update_id"]), target))
                    self.stats["webhook_delivered"] += 1
                else:
                    self.stats["webhook_failed"] += 1
                    self.webhook["last_error_message"] = f"HTTP {status}"
                    await asyncio.sleep(0.2)
                self._touch()

    def _emit_my_chat_member(
        self, chat: JsonDict, by: JsonDict, old_status: str, new_status: str
    ) -> None:
        self._emit(
            {
                "my_chat_member": {
                    "chat": chat,
                    "from": by,
                    "date": int(time.time()),
                    "old_chat_member": self._member_dict(self.bot_user, old_status),
                    "new_chat_member": self._member_dict(self.bot_user, new_status),
                }
            }
        )

    @staticmethod
    def _member_dict(user: JsonDict, status: str) -> JsonDict:
        data: JsonDict = {"status": status, "user": user}
        if status == "administrator":
            data.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
            )
        elif status == "creator":
            data["is_anonymous"] = False
        elif status == "kicked":
            data["until_date"] = 0
        return data

    def _chat_obj(self, chat_id: int) -> JsonDict:
        if chat_id in self.users:
            return self.users[chat_id].chat_dict()
        return self.groups[chat_id].chat_dict()

    def _store_message(
        self, chat_id: int, sender: Sender, content: JsonDict, *, kind: str
    ) -> SentMessage:
        self._counters[chat_id] += 1
        mid = self._counters[chat_id]
        now = int(time.time())
        data: JsonDict = {"message_id": mid, "date": now, "chat": self._chat_obj(chat_id)}
        if sender == "bot":
            data["from"] = self.bot_user
        data.update(content)
        msg = SentMessage(chat_id=chat_id, message_id=mid, sender=sender, date=now, kind=kind)
        msg.text = content.get("text")
        msg.raw_text = msg.text
        msg.caption = content.get("caption")
        if "photo" in content:
            msg.photo = content["photo"][-1]["file_id"]
        if "document" in content:
            msg.document_name = content["document"].get("file_name")
            file = self._files.get(content["document"]["file_id"])
            msg.document_bytes = file.content if file else None
        msg.data = data
        self._messages[(chat_id, mid)] = msg
        self._order.append(msg)
        return msg

    def new_file(self, content: bytes, folder: str, ext: str) -> JsonDict:
        """Store bytes as a new file; returns file_id, file_unique_id and file_size."""
        self._file_seq += 1
        seq = self._file_seq
        file_id = f"SBX{folder[:3].upper()}{seq:06d}AgADsandbox"
        stored = _StoredFile(file_id, f"SBXU{seq:06d}", f"{folder}/file_{seq}.{ext}", content)
        self._files[file_id] = stored
        self._paths[stored.file_path] = stored
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(content),
        }

    def new_voice(self, duration: int, content: bytes | None = None) -> JsonDict:
        """Create a Voice object (an OGG/Opus file of `duration` seconds)."""
        file = self.new_file(content or b"OggS\x00\x02" + bytes(64), "voice", "oga")
        voice = {**file, "duration": duration, "mime_type": "audio/ogg"}
        self._voices[file["file_id"]] = voice
        return voice

    def _voice_input(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        value = files.get("voice", params.get("voice"))
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value[len("attach://") :])
        if isinstance(value, Upload):
            return self.new_voice(int(params.get("duration") or 0), value.content)
        if isinstance(value, str) and value in self._voices:
            return self._voices[value]
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    async def _send_voice(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params["chat_id"])
        content: JsonDict = {"voice": self._voice_input(params, files)}
        self._caption(params, content)
        return self._bot_message(chat, params, content, kind="voice").data

    def new_photo_sizes(
        self, content: bytes | None = None, *, uploaded_by_user: bool = False
    ) -> list[JsonDict]:
        """Create a PhotoSize list (three sizes) for one picture."""
        data = content if content is not None else _FAKE_JPEG
        sizes = [
            {**self.new_file(data, "photos", "jpg"), "width": w, "height": h}
            for w, h in ((90, 68), (320, 240), (800, 600))
        ]
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return sizes

    def _resolve_chat(self, raw: Any) -> Chat:
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            name = str(raw).lstrip("@").lower()
            for user in self.users.values():
                if (user.username or "").lower() == name:
                    return user
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self.users:
            return self.users[chat_id]
        if chat_id in self.groups:
            return self.groups[chat_id]
        raise ApiError(400, "Bad Request: chat not found")

    def _writable_chat(self, raw: Any) -> Chat:
        chat = self._resolve_chat(raw)
        if isinstance(chat, SandboxUser):
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.chat_type} chat")
        elif chat.bot_status not in ACTIVE_STATUSES:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.chat_type} chat")
        return chat

    def _rate_limit(self, chat: Chat) -> None:
        keys = [("all", 30.0, 30.0)]
        sent: list[float] | None = None
        if isinstance(chat, SandboxGroup):
            sent = self._group_sent.setdefault(chat.id, [])
        else:
            keys.append((f"chat{chat.id}", 3.0, 1.0))
        buckets = [self._buckets.setdefault(k, _Bucket(cap, rate)) for k, cap, rate in keys]
        wait = max(b.wait_time() for b in buckets)
        now = time.monotonic()
        if sent is not None:
            count, seconds = self.group_limit
            sent[:] = [at for at in sent if at > now - seconds]
            if len(sent) >= count:
                self.stats["429 group"] += 1
                wait = max(wait, sent[len(sent) - count] + seconds - now)
        if wait > 0:
            self.stats["429"] += 1
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        for bucket in buckets:
            bucket.take()
        if sent is not None:
            sent.append(now)

    # ----------------------------------------------------------------- control API (manual use)

    def _find_user(self, ref: Any) -> SandboxUser:
        """A user by id or display name; unknown names create a new user."""
        for user in self.users.values():
            if str(user.id) == str(ref) or user.name == str(ref):
                return user
        return self.add_user(str(ref))

    async def _find_group(self, ref: Any, user: SandboxUser) -> SandboxGroup:
        """A group by id or title; unknown titles create it with the bot as a member."""
        for group in self.groups.values():
            if str(group.id) == str(ref) or group.title == str(ref):
                return group
        group = self.add_group(str(ref), members=[user])
        await self.add_bot_to_group(group, by=user, settle=False)
        return group

    async def _control_send(self, request: web.Request) -> web.StreamResponse:
        """POST /sandbox/send {"user": name|id, "text": str, "group": title|id|null}."""
        body = await request.json()
        user = self._find_user(body["user"])
        group = await self._find_group(body["group"], user) if body.get("group") else None
        msg = await user.send(str(body["text"]), chat=group, settle=False)
        return web.json_response(
            {"chat_id": msg.chat_id, "message_id": msg.message_id}, dumps=_dumps
        )

    async def _control_press(self, request: web.Request) -> web.StreamResponse:
        """POST /sandbox/press {"user", "button", "chat_id"?, "message_id"?}."""
        body = await request.json()
        user = self._find_user(body["user"])
        chat_id = int(body.get("chat_id") or user.id)
        if body.get("message_id"):
            msg = self._messages[(chat_id, int(body["message_id"]))]
        else:
            msg = self.last_message(chat_id)
        try:
            await user.press(msg, str(body["button"]), settle=False)
        except LookupError as exc:
            return web.json_response({"error": str(exc)}, status=404, dumps=_dumps)
        return web.json_response({"chat_id": chat_id, "message_id": msg.message_id})

    async def _control_transcript(self, request: web.Request) -> web.StreamResponse:
        """GET /sandbox/transcript?since=N as plain text."""
        since = int(request.query.get("since", "0"))
        return web.Response(text="\n".join(self.transcript(since)) + "\n")

    # ----------------------------------------------------------------- internals: HTTP

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        stored = self._paths.get(request.match_info["file_path"])
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        spec = self.spec.resolve(method)
        name = spec.name if spec else method
        polling = name == "getUpdates"
        if not polling:
            self._in_flight += 1
            self._touch()
        params: JsonDict = {}
        try:
            try:
                params, files = await self._read_params(request, name)
            except (ApiError, ValueError) as exc:
                error = exc if isinstance(exc, ApiError) else None
                error = error or ApiError(400, "Bad Request: can't parse request body")
                self._reject(name, params, error.description)
                return web.json_response(error.payload(), status=400, dumps=_dumps)
            wait = self._latency()
            if wait:
                await asyncio.sleep(wait / 2)
            status, body = await self._dispatch(name, params, files)
            if wait:
                await asyncio.sleep(wait / 2)
        except _DropConnection:
            self.requests.append((name, params, 0))
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        finally:
            if not polling:
                self._in_flight -= 1
                self._touch()
        return web.json_response(body, status=status, dumps=_dumps)

    def _latency(self) -> float:
        """This call's latency, in seconds."""
        low, high = self.latency if isinstance(self.latency, tuple) else (self.latency,) * 2
        return random.uniform(low, high) if high > low else low

    async def _read_params(
        self, request: web.Request, method: str
    ) -> tuple[JsonDict, dict[str, Upload]]:
        raw: dict[str, str] = dict(request.query)
        params: JsonDict = {}
        files: dict[str, Upload] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: request body must be a JSON object")
                params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = Upload(value.filename, value.file.read(), value.content_type)
                    else:
                        raw[key] = value if isinstance(value, str) else value.decode()
        for key, value in raw.items():
            params[key] = self._decode(method, key, value)
        return params, files

    def _decode(self, method: str, key: str, value: str) -> Any:
        types = self.spec.param_types(method, key)
        if types is None:
            if value[:1] in ("{", "["):
                with contextlib.suppress(ValueError):
                    return json.loads(value)
            return value
        if all(t in ("String", "InputFile") for t in types):
            return value
        if "Integer" in types:
            with contextlib.suppress(ValueError):
                return int(value)
        if "Float" in types or "Float number" in types:
            with contextlib.suppress(ValueError):
                return float(value)
        if "Boolean" in types and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if any(t not in ("String", "Integer", "Float", "Boolean", "InputFile") for t in types):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    async def _dispatch(
        self, name: str, params: JsonDict, files: dict[str, Upload]
    ) -> tuple[int, JsonDict]:
        shown = {
            **params,
            **{k: f"<file {u.filename} ({len(u.content)} bytes)>" for k, u in files.items()},
        }
        self.stats["requests"] += 1
        try:
            if self.spec.resolve(name) is None:
                self._reject(name, shown, "unknown method")
                raise ApiError(404, "Not Found")
            await self._apply_fault(name, params)
            attached = json.dumps(params, ensure_ascii=False)
            named = {k: v for k, v in files.items() if f'"attach://{k}"' not in attached}
            errors = self.spec.validate(name, {**params, **named})
            if errors:
                raise ApiError(400, f"Bad Request: {errors[0]}")
            handler = self._handlers.get(name)
            if handler is None:
                raise ApiError(400, "Bad Request: method not emulated by sandbox")
            result = await handler(params, files)
        except ApiError as exc:
            self.requests.append((name, shown, exc.status))
            if exc.status == 400:
                self._reject(name, shown, exc.description)
            if exc.status != 404:
                self._log_error(name, params, exc)
            return exc.status, exc.payload()
        self.requests.append((name, shown, 200))
        return 200, {"ok": True, "result": result}

    def _reject(self, name: str, params: JsonDict, error: str) -> None:
        self.rejected.append((name, params, error))
        self.stats["rejected"] += 1
        log.warning("sandbox rejected %s: %s", name, error)

    def _log_error(self, name: str, params: JsonDict, exc: ApiError) -> None:
        chat_id: int | None = None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(params["chat_id"]) if "chat_id" in params else None
        kind = "rejected" if exc.status == 400 else "error"
        self._log_event(kind, chat_id, "bot", text=exc.description, detail={"method": name})

    async def _apply_fault(self, name: str, params: JsonDict) -> None:
        queue = self._faults.get(name.lower())
        chat = str(params.get("chat_id", ""))
        fault = next((f for f in queue or [] if f.chat_id is None or str(f.chat_id) == chat), None)
        if queue is None or fault is None:
            return
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.remove(fault)
        self.stats["faults"] += 1
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status == 0:
            raise _DropConnection
        if fault.status == 429:
            self.stats["429"] += 1
            retry = fault.retry_after or 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        descriptions = {
            400: "Bad Request: injected failure",
            401: "Unauthorized",
            403: "Forbidden: injected failure",
            409: "Conflict: injected failure",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }
        raise ApiError(fault.status, descriptions.get(fault.status, "Injected failure"))

    # ----------------------------------------------------------------- Bot API methods

    async def _ok(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        return True

    async def _get_me(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        return self.bot_user

    async def _delete_webhook(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        self.webhook = {}
        self._pending.extend(self._webhook_backlog)
        self._webhook_backlog.clear()
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _set_webhook(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        self.webhook = dict(params)
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook_backlog.extend(self._pending)
        self._pending.clear()
        if self._webhook_backlog:
            self._start_webhook_delivery()
        return True

    async def _get_webhook_info(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending) + len(self._webhook_backlog),
        }

    async def _get_updates(self, params: JsonDict, files: dict[str, Upload]) -> list[JsonDict]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"]) or None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            before = len(self._pending)
            if offset > 0:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            allowed = self._allowed_updates or DEFAULT_UPDATES
            self._pending = [u for u in self._pending if _update_type(u) in allowed]
            if len(self._pending) != before:
                self._touch()
            if self._pending or self._closing:
                return self._pending[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._update_signal.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_signal.wait(), remaining)

    def _reply_target(self, chat: Chat, params: JsonDict) -> SentMessage | None:
        reply = params.get("reply_parameters")
        mid: Any = None
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            mid = reply.get("message_id")
            allow = allow or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            mid = params["reply_to_message_id"]
        if mid is None:
            return None
        target = self._messages.get((chat.id, int(mid)))
        if (target is None or target.deleted) and not allow:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _bot_message(
        self, chat: Chat, params: JsonDict, content: JsonDict, *, kind: str
    ) -> SentMessage:
        if self.enforce_limits:
            self._rate_limit(chat)
        target = self._reply_target(chat, params)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        if target is not None:
            content["reply_to_message"] = _without_reply(target.data)
        msg = self._store_message(chat.id, "bot", content, kind=kind)
        msg.reply_markup = markup if isinstance(markup, dict) else None
        msg.parse_mode = params.get("parse_mode")
        msg.reply_to = target.message_id if target else None
        if isinstance(markup, dict):
            if "keyboard" in markup:
                self._keyboards[chat.id] = msg.reply_keyboard or []
            elif markup.get("remove_keyboard"):
                self._keyboards.pop(chat.id, None)
        self._log_event("message", chat.id, "bot", message=msg)
        return msg

    async def _send_message(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params["chat_id"])
        raw = str(params["text"])
        plain = visible_text(raw, params.get("parse_mode"))
        msg = self._bot_message(chat, params, {"text": plain}, kind="text")
        msg.raw_text = raw
        return msg.data

    def _caption(self, params: JsonDict, content: JsonDict) -> None:
        if isinstance(params.get("caption"), str):
            content["caption"] = visible_text(params["caption"], params.get("parse_mode"))

    def _photo_input(self, value: Any, files: dict[str, Upload]) -> list[JsonDict]:
        upload = value if isinstance(value, Upload) else None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            return self.new_photo_sizes(upload.content)
        if isinstance(value, str) and value in self._photo_sets:
            return self._photo_sets[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.new_photo_sizes()
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _document_input(self, value: Any, files: dict[str, Upload]) -> JsonDict:
        upload = value if isinstance(value, Upload) else None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            name = upload.filename or "document"
            file = self.new_file(upload.content, "documents", name.rsplit(".", 1)[-1])
            document = {
                **file,
                "file_name": name,
                "mime_type": upload.content_type or "application/octet-stream",
            }
            self._documents[file["file_id"]] = document
            return document
        if isinstance(value, str) and value in self._documents:
            return self._documents[value]
        if isinstance(value, str) and value in self._files:
            stored = self._files[value]
            return {"file_id": value, "file_unique_id": stored.file_unique_id}
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            name = value.rstrip("/").rsplit("/", 1)[-1] or "document"
            file = self.new_file(b"", "documents", name.rsplit(".", 1)[-1])
            return {**file, "file_name": name}
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    async def _send_photo(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params["chat_id"])
        content: JsonDict = {
            "photo": self._photo_input(files.get("photo", params.get("photo")), files)
        }
        self._caption(params, content)
        return self._bot_message(chat, params, content, kind="photo").data

    async def _send_document(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat = self._writable_chat(params["chat_id"])
        value = files.get("document", params.get("document"))
        content: JsonDict = {"document": self._document_input(value, files)}
        self._caption(params, content)
        return self._bot_message(chat, params, content, kind="document").data

    async def _send_media_group(self, params: JsonDict, files: dict[str, Upload]) -> list[JsonDict]:
        chat = self._writable_chat(params["chat_id"])
        media = params["media"]
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album (2-10)")
        group_id = f"{self.bot_id}{len(self._order):06d}"
        results = []
        for item in media:
            if not isinstance(item, dict) or "media" not in item:
                raise ApiError(400, "Bad Request: can't parse InputMedia")
            kind = item.get("type", "photo")
            content: JsonDict = {"media_group_id": group_id}
            if kind == "photo":
                content["photo"] = self._photo_input(item["media"], files)
            else:
                content["document"] = self._document_input(item["media"], files)
                kind = "document"
            self._caption(item, content)
            msg = self._bot_message(chat, {}, content, kind=kind)
            msg.media_group_id = group_id
            results.append(msg.data)
        return results

    async def _send_chat_action(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        self._writable_chat(params["chat_id"])
        return True

    def _editable(self, params: JsonDict) -> tuple[Chat, SentMessage]:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not emulated by sandbox")
        if "chat_id" not in params or "message_id" not in params:
            raise ApiError(400, "Bad Request: chat_id and message_id are required")
        chat = self._writable_chat(params["chat_id"])
        msg = self._messages.get((chat.id, int(params["message_id"])))
        if msg is None or msg.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _apply_edit(self, msg: SentMessage, changes: JsonDict, markup: JsonDict | None) -> JsonDict:
        msg.edits.append(
            MessageVersion(
                int(msg.data.get("edit_date", msg.date)),
                msg.text,
                msg.raw_text,
                msg.caption,
                msg.reply_markup,
            )
        )
        for key, value in changes.items():
            setattr(msg, key, value)
            if key in ("text", "caption") and value is not None:
                msg.data[key] = value
            elif key in ("text", "caption"):
                msg.data.pop(key, None)
        msg.reply_markup = markup
        if markup and "inline_keyboard" in markup:
            msg.data["reply_markup"] = markup
        else:
            msg.data.pop("reply_markup", None)
        msg.data["edit_date"] = int(time.time())
        self._log_event("edit", msg.chat_id, "bot", message=msg)
        return msg.data

    async def _edit_message_text(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        _, msg = self._editable(params)
        if msg.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        raw = str(params["text"])
        mode = params.get("parse_mode")
        plain = visible_text(raw, mode)
        markup = _inline_markup(params.get("reply_markup"))
        old_sig = msg.raw_text if msg.parse_mode else msg.text
        new_sig = raw if mode else plain
        if plain == msg.text and new_sig == old_sig and markup == _inline_markup(msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        changes = {"text": plain, "raw_text": raw, "parse_mode": mode}
        return self._apply_edit(msg, changes, markup)

    async def _edit_message_caption(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        _, msg = self._editable(params)
        if msg.kind not in ("photo", "document"):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = params.get("caption")
        plain = visible_text(caption, params.get("parse_mode")) if caption else None
        markup = _inline_markup(params.get("reply_markup"))
        if plain == msg.caption and markup == _inline_markup(msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(msg, {"caption": plain}, markup)

    async def _edit_message_reply_markup(
        self, params: JsonDict, files: dict[str, Upload]
    ) -> JsonDict:
        _, msg = self._editable(params)
        markup = _inline_markup(params.get("reply_markup"))
        if markup == _inline_markup(msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(msg, {}, markup)

    async def _delete_message(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        chat = self._resolve_chat(params["chat_id"])
        msg = self._messages.get((chat.id, int(params["message_id"])))
        if msg is None or msg.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        msg.deleted = True
        self._log_event("delete", chat.id, "bot", message=msg)
        return True

    async def _answer_callback_query(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        answer = CallbackAnswer(
            query_id,
            text=params.get("text"),
            show_alert=bool(params.get("show_alert")),
            url=params.get("url"),
            cache_time=params.get("cache_time"),
        )
        self.callback_answers[query_id] = answer
        presser = self._presser(query_id)
        self._log_event(
            "callback_answer",
            presser,
            "bot",
            text=answer.text or "",
            detail={"show_alert": answer.show_alert},
        )
        return True

    def _presser(self, query_id: str) -> int | None:
        for update in reversed(self.emitted_updates):
            query = update.get("callback_query")
            if query and query["id"] == query_id:
                return int(query["from"]["id"])
        return None

    async def _get_chat(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat = self._resolve_chat(params["chat_id"])
        return {
            **chat.chat_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _user_obj(self, user_id: int) -> JsonDict:
        if user_id == self.bot_id:
            return self.bot_user
        if user_id in self.users:
            return self.users[user_id].user_dict()
        raise ApiError(400, "Bad Request: user not found")

    async def _get_chat_member(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat = self._resolve_chat(params["chat_id"])
        user_id = int(params["user_id"])
        user = self._user_obj(user_id)
        if isinstance(chat, SandboxUser):
            status = "member" if user_id in (chat.id, self.bot_id) else "left"
        else:
            if chat.bot_status not in ACTIVE_STATUSES:
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat.chat_type} chat")
            status = chat.status_of(user_id)
        return self._member_dict(user, status)

    async def _get_chat_administrators(
        self, params: JsonDict, files: dict[str, Upload]
    ) -> list[JsonDict]:
        chat = self._resolve_chat(params["chat_id"])
        if isinstance(chat, SandboxUser):
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        if chat.bot_status not in ACTIVE_STATUSES:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.chat_type} chat")
        admins = [
            self._member_dict(self._user_obj(uid), status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_dict(self.bot_user, "administrator"))
        return admins

    async def _leave_chat(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        chat = self._resolve_chat(params["chat_id"])
        if isinstance(chat, SandboxUser):
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        if chat.bot_status not in ACTIVE_STATUSES:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.chat_type} chat")
        old = chat.bot_status
        chat.bot_status = "left"
        self._emit_my_chat_member(chat.chat_dict(), self.bot_user, old, "left")
        self._log_event("member", chat.id, "bot", text=f"{self.bot_name} 退出了群组")
        return True

    async def _set_my_commands(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        commands = params["commands"]
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 commands")
        for cmd in commands:
            name = cmd.get("command", "") if isinstance(cmd, dict) else ""
            desc = cmd.get("description", "") if isinstance(cmd, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(desc)) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands[key] = list(commands)
        return True

    async def _get_my_commands(self, params: JsonDict, files: dict[str, Upload]) -> list[JsonDict]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return self._commands.get(key, [])

    async def _delete_my_commands(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    async def _set_my_description(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        short = "short_description" in params
        text = str(params.get("short_description" if short else "description") or "")
        if len(text) > (120 if short else 512):
            raise ApiError(400, "Bad Request: description is too long")
        key = ("short" if short else "long", str(params.get("language_code") or ""))
        self.descriptions[key] = text
        return True

    async def _get_my_description(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        language = str(params.get("language_code") or "")
        return {"description": self.descriptions.get(("long", language), "")}

    async def _get_my_short_description(
        self, params: JsonDict, files: dict[str, Upload]
    ) -> JsonDict:
        language = str(params.get("language_code") or "")
        return {"short_description": self.descriptions.get(("short", language), "")}

    async def _set_chat_menu_button(self, params: JsonDict, files: dict[str, Upload]) -> bool:
        chat_id = int(params["chat_id"]) if params.get("chat_id") is not None else None
        button = params.get("menu_button")
        self.menu_buttons[chat_id] = button if isinstance(button, dict) else {"type": "default"}
        return True

    async def _get_chat_menu_button(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        chat_id = int(params["chat_id"]) if params.get("chat_id") is not None else None
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "commands"}))

    async def _get_file(self, params: JsonDict, files: dict[str, Upload]) -> JsonDict:
        stored = self._files.get(str(params["file_id"]))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _kind_of(content: JsonDict) -> str:
    for kind in ("photo", "document", "sticker", "voice"):
        if kind in content:
            return kind
    return "text"


def _without_reply(data: JsonDict) -> JsonDict:
    return {k: v for k, v in data.items() if k != "reply_to_message"}


def _inline_markup(markup: Any) -> JsonDict | None:
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return markup
    return None


def _scope_key(scope: Any) -> str:
    if not isinstance(scope, dict):
        scope = {"type": "default"}
    return json.dumps(scope, sort_keys=True)


def _update_type(update: JsonDict) -> str:
    return next(k for k in update if k != "update_id")


def parse_latency(text: str) -> float | tuple[float, float]:
    """`--latency` as given: seconds ("0.25") or a range ("0.3-0.5")."""
    low, separator, high = text.partition("-")
    try:
        values = (float(low), float(high if separator else low))
    except ValueError:
        raise ValueError(f"latency {text!r}: give seconds (0.25) or a range (0.3-0.5)") from None
    if values[0] < 0 or values[1] < values[0]:
        raise ValueError(f"latency {text!r}: give seconds (0.25) or a range (0.3-0.5)")
    return values[0] if values[0] == values[1] else values


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8081,
    token: str = "123456:SANDBOX",
    latency: float | tuple[float, float] = 0.0,
) -> None:
    """Run a sandbox until cancelled, for manual use (point the bot's base_url at it)."""
    sandbox = BotApiSandbox(token=token, latency=latency)
    await sandbox.start(host, port)
    log.info("sandbox base_url=%s base_file_url=%s", sandbox.base_url, sandbox.base_file_url)
    print(f"Bot API sandbox: base_url={sandbox.base_url} base_file_url={sandbox.base_file_url}")
    if latency:
        shown = "-".join(map(str, latency)) if isinstance(latency, tuple) else str(latency)
        print(f"Every Bot API call takes {shown} s, half before it takes effect, half after")
    print(
        f"Act as users: POST {sandbox.base_url[:-4]}/sandbox/send "
        '{"user": "王老师", "text": "/start"}; GET .../sandbox/transcript'
    )
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
