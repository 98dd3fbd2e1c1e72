"""Deliver the notification outbox through the (rate-limited) bot, with retries.

Handlers and jobs call `notify()` inside their transaction, so a notification exists exactly
when the change it announces was committed; then `deliver()` sends what is due. A message that
Telegram refuses for now (5xx, timeout, dropped connection) stays pending with a backoff; a
403 marks the person unreachable instead of retrying forever. A repeating job
(`scheduler.jobs`) delivers whatever is left.

Pacing per chat (`notices.pacing`): a delivery pass sends at most 30 messages a second overall
and skips a chat that must wait (a group that had its 20 messages this minute, or a chat
Telegram answered 429 for, which leaves that message due): the other chats' messages go
meanwhile, and the pass sends the skipped ones when their chat's turn comes. Answers to the
person acting never wait behind the queue: handlers send them themselves (or with `send_now`).

Edits (`queue_edit`): the edit of a message queued earlier (a repair card showing its new
status) is queued like a notification, in the transaction of the change, under one key per
message: a newer edit replaces one not sent yet, and an edit being sent is followed by the
newer content, never overtaken by an older one. "Message is not modified" counts as done.

Crash safety: before each request the row is marked in flight in its own committed transaction
(`storage.outbox.mark_in_flight`, which also claims it), and the answer is recorded after. A
crash between Telegram taking the message and the record leaves the row in flight; the next
start sends it again (`recover`, before the first update is handled). So every notification
is delivered at least once, and a crash duplicates at most the messages that were in flight
(the Bot API offers no way to ask whether it arrived): the one the delivery pass was sending
(a pass sends one at a time), plus any reporter's confirmation or card edit being sent at that
moment (`send_after_commit`). One bot process per database is assumed.

Several worker processes (scale-out): one of them, the leader, sends the queue, so the
30 messages/s are paced in one place. The others hand their deliveries to it (`send_elsewhere`,
installed by `bot.leader`): `deliver_soon` and `deliver` then only wake the sender. Each worker
still sends its answers to the person acting itself (`send_now`). At start-up a worker does not
take the rows in flight for in doubt (`others_sending`): another worker may be sending them; a
dead worker's are sent again when their lease ends (`storage.outbox.IN_FLIGHT_LEASE`).

Shutdown (`handing_back`, used by `bot.lifecycle` on SIGTERM): a delivery pass finishes the
message it is sending, records it, and returns; what it had not claimed stays pending for the
next start, and no new background delivery begins. `settled()` waits for the background work.
So a clean stop sends nothing twice; only a kill (SIGKILL, power loss) can, as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from notices.pacing import QUEUED, Pacer, Window
from notices.services import Services
from storage import groups, outbox, people
from storage.models import Notification, NotificationStatus

log = logging.getLogger(__name__)

# Telegram's limit for bulk notifications: about 30 messages per second overall.
BROADCAST_RATE = 30
DELIVERED_POLL = 0.2  # seconds between looks at a row another process sends (`delivered`)


@dataclass
class _LoopState:
    """One delivery at a time and one broadcast limiter per event loop (asyncio primitives
    belong to a loop; tests and the CLI run several loops in one process)."""

    lock: asyncio.Lock
    limiter: AsyncLimiter
    recovered: set[str] = field(default_factory=set)  # databases whose in-flight rows were seen
    background: asyncio.Task[None] | None = None  # the delivery started by deliver_soon()
    again: bool = False  # more was queued while the background delivery ran
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # other background work
    handing_back: bool = False  # shutting down: send nothing more that is not being sent
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # more queued, or stopping
    pacer: Pacer = field(default_factory=Pacer)  # each chat's flood limits
    sending: dict[str, tuple[asyncio.Lock, list[int]]] = field(default_factory=dict)  # per key
    elsewhere: Callable[[], None] | None = None  # wakes the process that sends (scale-out)
    # Messages sent straight to the person acting (time, count): they use Telegram's 30
    # messages/s too, so the queue's next messages wait for them (`sent_directly`).
    direct: list[tuple[float, int]] = field(default_factory=list)


_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
    weakref.WeakKeyDictionary()
)


def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None:
        # 30 a second, one at a time (no burst): Telegram's own bucket then stays full enough
        # for the answers sent straight to the people acting meanwhile.
        limiter = AsyncLimiter(1, 1 / BROADCAST_RATE)
        state = _states[loop] = _LoopState(asyncio.Lock(), limiter)
    return state


def pacer() -> Pacer:
    """This event loop's record of each chat's flood limits (shared with bot.rate_limit)."""
    return _state().pacer


def sent_directly(count: int) -> None:
    """`count` messages went straight to a chat, not through the queue (an answer to the
    person acting, which never waits behind a broadcast): the queue leaves room for them
    within Telegram's 30 messages/s overall."""
    _state().direct.append((time.monotonic(), count))


def _owed(state: _LoopState) -> int:
    """Messages sent directly within the last second and not yet made room for."""
    since = time.monotonic() - 1.0
    owed = sum(count for at, count in state.direct if at > since)
    state.direct.clear()
    return min(owed, BROADCAST_RATE - 1)


def pace_groups(window: Window | None) -> None:
    """Pace groups at `window` (None: not at all, for a Bot API without flood limits)."""
    _state().pacer.group = window


@asynccontextmanager
async def _sending(key: str) -> AsyncIterator[None]:
    """One sender at a time per key in this process, so an edit's newer content never
    overtakes (or is overtaken by) an older one on the way."""
    state = _state()
    entry = state.sending.get(key)
    if entry is None:
        entry = state.sending[key] = (asyncio.Lock(), [0])
    lock, users = entry
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if not users[0]:
            del state.sending[key]


UNREACHABLE_ERRORS = ("chat not found", "user is deactivated", "bot was kicked")
NOT_MODIFIED = "message is not modified"

DeliveryHook = Callable[[AsyncSession, Any, int], Awaitable[None]]
_delivery_hooks: dict[str, DeliveryHook] = {}


def on_delivered(prefix: str, hook: DeliveryHook) -> None:
    """Run `hook(session, notification, message_id)` in the transaction that records the
    delivery of every notification whose key starts with `prefix` (e.g. to remember where a
    ticket's card landed, whenever and by whichever pass it is delivered)."""
    _delivery_hooks[prefix] = hook


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    retrying: int = 0
    undeliverable: int = 0
    waiting: int = 0  # Telegram said 429: due again when that chat's pause is over


async def notify(
    session: AsyncSession,
    services: Services,
    *,
    key: str,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None,
    photo_file_id: str | None = None,
    parse_mode: str | None = "HTML",
    send_after_commit: bool = False,
    voice_file_id: str | None = None,
) -> bool:
    """Queue a notification in the caller's transaction; False if `key` was queued before.

    With `photo_file_id` (or `voice_file_id`) it goes out as that photo (voice message) with
    the text as its caption.

    `send_after_commit`: the answer to the person acting, which the caller sends with
    `send_now` as soon as the transaction committed instead of leaving it to the queue (and
    behind a broadcast). It is queued already claimed, so no delivery pass sends it too.
    """
    return await outbox.enqueue(
        session,
        key=key,
        chat_id=chat_id,
        content=outbox.Content(text, parse_mode, markup.to_dict() if markup is not None else None),
        now=services.now(),
        photo_file_id=photo_file_id,
        in_flight=send_after_commit,
        voice_file_id=voice_file_id,
    )


async def queue_edit(
    session: AsyncSession,
    services: Services,
    *,
    of: str,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    send_after_commit: bool = False,
) -> bool:
    """Queue, in the caller's transaction, the edit of the message queued under key `of` to
    show `text` and `markup` (None removes its buttons); False when there is no such message.

    The latest edit wins (see the module docstring); retried like a notification until it is
    shown. `send_after_commit`: the caller sends it with `send_now` after the commit.
    """
    content = outbox.Content(text, "HTML", markup.to_dict() if markup is not None else None)
    return await outbox.enqueue_edit(
        session, of=of, content=content, now=services.now(), in_flight=send_after_commit
    )


async def send_now(bot: Bot, services: Services, key: str) -> bool:
    """Send the notification (or edit) queued under `key` with `send_after_commit`, now;
    False when there was nothing to send (it went out already: a form submitted twice).

    Refusals are handled as in a delivery pass: one Telegram refuses for now is left to the
    queue, which a background pass then sends.
    """
    state = _state()
    async with _sending(key):
        async with services.database.transaction() as session:
            item = await outbox.claim_key(session, key, now=services.now())
        if item is None:
            return False
        wait = not state.pacer.ready(item.chat_id)
        if wait and not key.startswith(outbox.EDIT_PREFIX):  # an edit adds no message
            async with services.database.transaction() as session:
                await outbox.release(
                    session, item.id, error="waiting for the chat's turn", now=services.now()
                )
            done = False
        else:
            done = await _send(bot, services, item, DeliveryReport())
    if not done:
        deliver_soon(bot, services)  # due again (a 429, or newer content): the queue sends it
    return True


async def recover(services: Services) -> None:
    """Once per process and database: make the messages a previous run left in flight due.

    Runs at start-up before any update is handled (and before the first delivery pass), so
    only rows claimed by an earlier run are taken for in doubt, never this run's own.
    """
    state = _state()
    if services.database.url in state.recovered:
        return
    async with services.database.transaction() as session:
        in_doubt = await outbox.recover_in_flight(session, now=services.now())
    state.recovered.add(services.database.url)
    for key in in_doubt:
        log.warning("notification %s was being sent when the bot stopped; sent again", key)


def _markup(
    data: dict[str, Any] | None, bot: Bot
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, bot)
    if data.get("remove_keyboard"):
        return ReplyKeyboardRemove()
    return ReplyKeyboardMarkup.de_json(data, bot)


def send_elsewhere(wake: Callable[[], None] | None) -> None:
    """Scale-out: another process sends the queue; `deliver_soon` and `deliver` call `wake()`
    to tell it something is due instead of sending. None: this process sends (the default)."""
    _state().elsewhere = wake


def sent_elsewhere() -> bool:
    """Whether another process sends this one's queued notifications (see `send_elsewhere`)."""
    return _state().elsewhere is not None


def others_sending(services: Services) -> None:
    """Scale-out: other processes may be sending right now, so the rows in flight at start-up
    are not in doubt and `recover` leaves them alone (a dead process's rows become due when
    their lease ends)."""
    _state().recovered.add(services.database.url)


def deliver_soon(bot: Bot, services: Services) -> None:
    """Deliver in the background, so the person acting is answered without waiting for the
    notifications (a broadcast paced at 30 messages/s would otherwise hold up the update).

    One background delivery runs at a time; anything queued meanwhile is picked up by a
    further pass. `is_idle()` tells tests and the sandbox harness when it has finished.
    """
    state = _state()
    if state.handing_back:
        return  # shutting down: it stays pending for the next start
    if state.elsewhere is not None:
        state.elsewhere()  # the leader sends it (scale-out)
        return
    state.wake.set()  # a pass waiting for a slow chat's turn looks at what is new
    if state.background is not None and not state.background.done():
        state.again = True
        return

    async def run() -> None:
        while True:
            state.again = False
            try:
                await deliver(bot, services)
            except Exception:
                log.exception("background delivery failed; the outbox job will retry")
            if not state.again:
                return

    state.background = asyncio.get_running_loop().create_task(run(), name="outbox.deliver_soon")


def in_background(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Run follow-up work of an update (delivering, then posting photos under a card) in the
    background, tracked so that `is_idle()` and `settled()` wait for it and failures are
    logged."""
    state = _state()

    async def run() -> None:
        try:
            await work
        except Exception:
            log.exception("background work %s failed", name)

    task = asyncio.get_running_loop().create_task(run(), name=name)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
    return task


async def delivered(services: Services, key: str, *, within: float) -> bool:
    """Wait until the notification queued under `key` is sent, by whichever process sends the
    queue; False when it is not within `within` seconds (or failed, or the bot is stopping)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not _state().handing_back:
        async with services.database.reading() as session:
            row = await outbox.by_key(session, key)
        if row is None or row.status != NotificationStatus.PENDING:
            return row is not None and row.status == NotificationStatus.SENT
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(DELIVERED_POLL)
    return False


def is_idle() -> bool:
    """No background delivery or follow-up work is running in this event loop."""
    try:
        state = _states.get(asyncio.get_running_loop())
    except RuntimeError:
        return True
    if state is None:
        return True
    delivering = state.background is not None and not state.background.done()
    return not delivering and not state.tasks


@asynccontextmanager
async def handing_back() -> AsyncIterator[None]:
    """While shutting down: delivery passes finish the message they are sending, record it and
    return, leaving the rest pending for the next start; no background delivery starts."""
    state = _state()
    state.handing_back = True
    state.wake.set()
    try:
        yield
    finally:
        state.handing_back = False


async def settled(timeout: float) -> bool:  # noqa: ASYNC109
    """Wait until the background delivery and follow-up work of this event loop have ended;
    False if they still run after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = _state()
        running = [*state.tasks]
        if state.background is not None and not state.background.done():
            running.append(state.background)
        if not running:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.wait(running, timeout=remaining)


async def deliver(bot: Bot, services: Services, *, limit: int = 200) -> DeliveryReport:
    """Send every due notification once; one pass at a time in this process.

    Returns when nothing is due. A chat that must wait (its group window is full, or Telegram
    answered 429) is skipped while the others are served, then waited for. When another
    process sends the queue (`send_elsewhere`), it is woken instead and nothing is sent here.
    """
    report = DeliveryReport()
    state = _state()
    if state.elsewhere is not None:
        if not state.handing_back:
            state.elsewhere()
        return report
    pacing = state.pacer
    state.wake.set()  # a pass waiting for a slow chat's turn sends what is new meanwhile
    async with state.lock:
        await recover(services)
        while not state.handing_back:
            state.wake.clear()
            blocked = pacing.blocked()
            async with services.database.reading() as session:
                now = services.now()
                batch = list(await outbox.due(session, now=now, limit=limit, skip_chats=blocked))
                waiting = (
                    set() if batch else await outbox.due_chats(session, now=now, among=blocked)
                )
            if not batch:
                if not waiting:
                    return report
                await _pause(state, min(blocked[chat] for chat in waiting))
                continue
            for item in batch:
                assert item.id is not None
                if state.handing_back:
                    return report
                if not pacing.ready(item.chat_id):
                    continue  # its chat's turn comes later; the others' messages go now
                # Answers that went out meanwhile take their slots of the 30 a second first
                # (a sleep would not do: the limiter's own interval passes during it).
                for _answer in range(_owed(state)):
                    await state.limiter.acquire()
                await state.limiter.acquire()
                if state.handing_back:
                    return report
                if not pacing.ready(item.chat_id):
                    continue
                async with _sending(item.key):
                    async with services.database.transaction() as session:
                        claimed = await outbox.mark_in_flight(session, item.id, now=services.now())
                    if claimed is not None:
                        await _send(bot, services, claimed, report)
        return report


async def _pause(state: _LoopState, until: float) -> None:
    """Wait until `until` (the pacer's clock), or until more is queued or the bot stops."""
    delay = until - state.pacer.now()
    if delay > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.wake.wait(), delay)


async def _send(bot: Bot, services: Services, item: outbox.Claimed, report: DeliveryReport) -> bool:
    """Send a claimed notification or edit and record the answer; False when it stays due
    (Telegram said 429, or a newer edit replaced it on the way)."""
    target: Notification | None = None
    of = outbox.edited_key(item.key)
    if of is not None:
        async with services.database.reading() as session:
            target = await outbox.by_key(session, of)
        if (
            target is None
            or target.status in (NotificationStatus.FAILED, NotificationStatus.UNREACHABLE)
            or (target.status == NotificationStatus.SENT and target.message_id is None)
        ):
            async with services.database.transaction() as session:
                await outbox.mark_undeliverable(
                    session,
                    item.id,
                    error="the message to edit was not delivered",
                    unreachable=False,
                )
            report.undeliverable += 1
            return True
        if target.status != NotificationStatus.SENT:
            async with services.database.transaction() as session:
                return await outbox.wait_for_original(session, item.id, of=of, now=services.now())
    queued = QUEUED.set(True)
    try:
        message_id = await _request(bot, item, target)
    except RetryAfter as exc:
        retry = (
            exc.retry_after.total_seconds()
            if isinstance(exc.retry_after, timedelta)
            else float(exc.retry_after)
        )
        _state().pacer.pause(item.chat_id, retry)
        log.info("notification %s waits %.0f s for chat %s (429)", item.key, retry, item.chat_id)
        async with services.database.transaction() as session:
            await outbox.release(
                session, item.id, error=f"429 retry after {retry:.0f} s", now=services.now()
            )
        report.waiting += 1
        return False
    except Forbidden as exc:
        await _unreachable(services, item, str(exc))
        report.undeliverable += 1
    except ChatMigrated as exc:
        await _retry(services, item.id, f"chat migrated to {exc.new_chat_id}", None)
        report.retrying += 1
    except BadRequest as exc:
        if target is not None and NOT_MODIFIED in str(exc).lower():
            return await _sent(services, item, target.message_id, report)
        if any(marker in str(exc).lower() for marker in UNREACHABLE_ERRORS):
            await _unreachable(services, item, str(exc))
        else:
            log.error("notification %s refused: %s", item.key, exc)
            async with services.database.transaction() as session:
                await outbox.mark_undeliverable(session, item.id, error=str(exc), unreachable=False)
        report.undeliverable += 1
    except TelegramError as exc:  # NetworkError, TimedOut, 5xx
        await _retry(services, item.id, f"{type(exc).__name__}: {exc}", None)
        report.retrying += 1
    else:
        return await _sent(services, item, message_id, report)
    finally:
        QUEUED.reset(queued)
    return True


async def _request(bot: Bot, item: outbox.Claimed, target: Notification | None) -> int | None:
    """The Bot API call for a notification, or for the edit of `target`; the message id."""
    markup = _markup(item.reply_markup, bot)
    if target is not None:
        if target.photo_file_id or target.voice_file_id:
            await bot.edit_message_caption(
                chat_id=target.chat_id,
                message_id=target.message_id,
                caption=item.text[:1024],
                parse_mode=item.parse_mode,
                reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            )
        else:
            await bot.edit_message_text(
                item.text,
                chat_id=target.chat_id,
                message_id=target.message_id,
                parse_mode=item.parse_mode,
                reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            )
        return target.message_id
    if item.photo_file_id:
        message = await bot.send_photo(
            item.chat_id,
            item.photo_file_id,
            caption=item.text[:1024],
            parse_mode=item.parse_mode,
            reply_markup=markup,
        )
    elif item.voice_file_id:
        text, mode = item.text[:1024], item.parse_mode
        message = await bot.send_voice(
            item.chat_id, item.voice_file_id, caption=text, parse_mode=mode, reply_markup=markup
        )
    else:
        message = await bot.send_message(
            item.chat_id, item.text, parse_mode=item.parse_mode, reply_markup=markup
        )
    return message.message_id


async def _sent(
    services: Services, item: outbox.Claimed, message_id: int | None, report: DeliveryReport
) -> bool:
    """Record a delivery (and run the delivery hooks); False when a newer edit replaced the
    content on the way: it stays due, to be sent next."""
    async with services.database.transaction() as session:
        done = await outbox.mark_sent(
            session, item.id, message_id=message_id, now=services.now(), sent=item
        )
        if done and message_id is not None:
            for prefix, hook in _delivery_hooks.items():
                if item.key.startswith(prefix):
                    try:
                        async with session.begin_nested():
                            await hook(session, item, message_id)
                    except Exception:
                        log.exception("after delivering %s: hook %s failed", item.key, prefix)
    report.sent += 1
    return done


async def _retry(services: Services, item_id: int, error: str, delay: timedelta | None) -> None:
    log.warning("notification %s will be retried: %s", item_id, error)
    async with services.database.transaction() as session:
        await outbox.mark_retry(session, item_id, error=error, now=services.now(), delay=delay)


async def _unreachable(services: Services, item: Any, error: str) -> None:
    log.info("chat %s is unreachable: %s", item.chat_id, error)
    async with services.database.transaction() as session:
        await outbox.mark_undeliverable(session, item.id, error=error, unreachable=True)
        if item.chat_id > 0:
            await people.mark_unreachable(session, item.chat_id)
        else:
            await groups.record_left(session, chat_id=item.chat_id, now=services.now())
