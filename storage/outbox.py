"""The notification outbox: queued in the same transaction as the change, delivered after."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import insert_on_conflict
from storage.models import Notification, NotificationStatus

MAX_ATTEMPTS = 12

# A row being sent right now: committed before the request to Telegram and cleared when the
# answer is recorded. A row still carrying it after a crash is "in doubt": Telegram may or may
# not have taken the message (the Bot API has no idempotency key). It is sent again, so a crash
# can duplicate that one message but never lose it; each delivery pass sends one message at a
# time, so a crash leaves that row in doubt, plus any answer queued `in_flight` being sent.
IN_FLIGHT = "sending"
IN_DOUBT = "in doubt after a restart: it may have been delivered before; sent again"
IN_FLIGHT_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Content:
    """What a message shows: its text, how Telegram parses it, its buttons (as JSON)."""

    text: str
    parse_mode: str | None = "HTML"
    reply_markup: dict[str, Any] | None = None


def _new_row(
    key: str, chat_id: int, content: Content, now: datetime, in_flight: bool
) -> dict[str, Any]:
    """The columns of a row queued now (`in_flight`: already claimed by its sender)."""
    return {
        "key": key[:160],
        "chat_id": chat_id,
        "text": content.text,
        "parse_mode": content.parse_mode,
        "reply_markup": content.reply_markup,
        "status": NotificationStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now + IN_FLIGHT_LEASE if in_flight else now,
        "error": IN_FLIGHT if in_flight else None,
        "created_at": now,
    }


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    content: Content,
    now: datetime,
    photo_file_id: str | None = None,
    in_flight: bool = False,
    voice_file_id: str | None = None,
) -> bool:
    """Queue a message; returns False when one with this key was already queued (idempotent).

    `in_flight`: the caller sends it itself right after the commit (`claimed` finds it), so
    it is queued already claimed; if that send never happens, the lease makes it due again.
    """
    media = {"photo_file_id": photo_file_id, "voice_file_id": voice_file_id}
    values = _new_row(key, chat_id, content, now, in_flight) | media
    statement = (
        insert_on_conflict(session, Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def due(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int = 100,
    skip_chats: Collection[int] = (),
) -> Sequence[Notification]:
    """Pending notifications whose time has come, oldest first, except to `skip_chats`."""
    query = select(Notification).where(
        Notification.status == NotificationStatus.PENDING,
        col(Notification.next_attempt_at) <= now,
    )
    if skip_chats:
        query = query.where(col(Notification.chat_id).not_in(list(skip_chats)))
    return (await session.exec(query.order_by(col(Notification.id)).limit(limit))).all()


async def due_chats(session: AsyncSession, *, now: datetime, among: Collection[int]) -> set[int]:
    """Which of the chats `among` have a notification due."""
    if not among:
        return set()
    query = select(Notification.chat_id).where(
        Notification.status == NotificationStatus.PENDING,
        col(Notification.next_attempt_at) <= now,
        col(Notification.chat_id).in_(list(among)),
    )
    return set((await session.exec(query.distinct())).all())


async def pending_count(session: AsyncSession) -> int:
    """How many notifications are still waiting (due or not)."""
    query = select(Notification.id).where(Notification.status == NotificationStatus.PENDING)
    return len((await session.exec(query)).all())


@dataclass(frozen=True)
class Claimed:
    """A notification claimed for sending, as it is at that moment (an edit queued later may
    change the row's text; what was sent is compared when the answer is recorded)."""

    id: int
    key: str
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    photo_file_id: str | None
    voice_file_id: str | None = None


_CLAIMED_COLUMNS = (
    col(Notification.id),
    col(Notification.key),
    col(Notification.chat_id),
    col(Notification.text),
    col(Notification.parse_mode),
    col(Notification.reply_markup),
    col(Notification.photo_file_id),
    col(Notification.voice_file_id),
)


async def _claim(
    session: AsyncSession, condition: Any, *, now: datetime, lease: timedelta
) -> Claimed | None:
    result = await session.exec(
        update(Notification)
        .where(condition, col(Notification.status) == NotificationStatus.PENDING)
        .values(error=IN_FLIGHT, next_attempt_at=now + lease)
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    return Claimed(*row) if row is not None else None


async def mark_in_flight(
    session: AsyncSession,
    notification_id: int,
    *,
    now: datetime,
    lease: timedelta = IN_FLIGHT_LEASE,
) -> Claimed | None:
    """Claim a due message just before sending it; None if it is no longer pending and due.

    The row stays pending but is not due until the lease ends, so a crash during the request
    leaves it to be sent again (after `recover_in_flight` at the next start, or the lease).
    Returns the row as it is now (its text may have changed since it was found due).
    """
    return await _claim(
        session,
        (col(Notification.id) == notification_id) & (col(Notification.next_attempt_at) <= now),
        now=now,
        lease=lease,
    )


async def claim_key(
    session: AsyncSession, key: str, *, now: datetime, lease: timedelta = IN_FLIGHT_LEASE
) -> Claimed | None:
    """Claim the message queued under `key` to send it now: one queued `in_flight` for the
    caller to send, or one that is due; None when there is nothing to send.

    The caller holds the outbox's lock for this key, so a row marked in flight is not being
    sent by anyone else in this process (and a previous process's were recovered at start).
    """
    return await _claim(
        session,
        (col(Notification.key) == key)
        & or_(col(Notification.error) == IN_FLIGHT, col(Notification.next_attempt_at) <= now),
        now=now,
        lease=lease,
    )


async def by_key(session: AsyncSession, key: str) -> Notification | None:
    """The notification queued under `key`, whatever its state."""
    return (await session.exec(select(Notification).where(Notification.key == key))).first()


async def recover_in_flight(session: AsyncSession, *, now: datetime) -> list[str]:
    """After a restart: rows left mid-send become due now (at least once); returns their keys."""
    query = select(Notification).where(
        Notification.status == NotificationStatus.PENDING, Notification.error == IN_FLIGHT
    )
    rows = (await session.exec(query)).all()
    for row in rows:
        row.error = IN_DOUBT
        row.next_attempt_at = now
        session.add(row)
    return [row.key for row in rows]


async def mark_sent(
    session: AsyncSession,
    notification_id: int,
    *,
    message_id: int | None,
    now: datetime,
    sent: Claimed | None = None,
) -> bool:
    """Delivered; False when the row changed while `sent` (its content then) was on the way
    (a newer edit superseded it): it stays pending, due now, so the newer content goes too.

    A pending edit of this message (queued before it was delivered) becomes due.
    """
    notification = await session.get(Notification, notification_id, with_for_update=True)
    if notification is None:
        return True
    notification.attempts += 1
    if sent is not None and (
        notification.text != sent.text
        or notification.reply_markup != sent.reply_markup
        or notification.parse_mode != sent.parse_mode
    ):
        notification.error = None
        notification.next_attempt_at = now
        session.add(notification)
        return False
    notification.status = NotificationStatus.SENT
    notification.sent_at = now
    notification.message_id = message_id
    if notification.error == IN_FLIGHT:
        notification.error = None
    session.add(notification)
    await session.exec(
        update(Notification)
        .where(
            col(Notification.key) == edit_key(notification.key),
            col(Notification.status) == NotificationStatus.PENDING,
            or_(col(Notification.error).is_(None), col(Notification.error) != IN_FLIGHT),
        )
        .values(next_attempt_at=now)
    )
    return True


async def release(
    session: AsyncSession, notification_id: int, *, error: str, now: datetime
) -> None:
    """Telegram asked to wait (429) and the sender skips that chat meanwhile: the message is
    due again at once and no attempt is counted (it was not refused)."""
    notification = await session.get(Notification, notification_id)
    if notification is not None and notification.status == NotificationStatus.PENDING:
        notification.error = error[:500]
        notification.next_attempt_at = now
        session.add(notification)


async def wait_for_original(
    session: AsyncSession,
    notification_id: int,
    *,
    of: str,
    now: datetime,
    lease: timedelta = IN_FLIGHT_LEASE,
) -> bool:
    """An edit whose message (`of`) is not delivered yet waits for it: the delivery makes the
    edit due (`mark_sent`), the lease is a backstop. False when the message was delivered
    meanwhile: the edit is due now. No attempt is counted."""
    target = (
        await session.exec(select(Notification).where(Notification.key == of).with_for_update())
    ).first()
    delivered = target is not None and target.status == NotificationStatus.SENT
    notification = await session.get(Notification, notification_id)
    if notification is not None and notification.status == NotificationStatus.PENDING:
        notification.error = None
        notification.next_attempt_at = now if delivered else now + lease
        session.add(notification)
    return not delivered


# --- edits ---------------------------------------------------------------------------------------

EDIT_PREFIX = "edit:"


def edit_key(of: str) -> str:
    """The key of the edit of the message queued under `of`: one per message, so a newer
    edit supersedes one not sent yet."""
    return f"{EDIT_PREFIX}{of}"[:160]


def edited_key(key: str) -> str | None:
    """The key of the message an edit row edits; None for a row that is not an edit."""
    return key.removeprefix(EDIT_PREFIX) if key.startswith(EDIT_PREFIX) else None


async def enqueue_edit(
    session: AsyncSession, *, of: str, content: Content, now: datetime, in_flight: bool = False
) -> bool:
    """Queue the edit of the message queued under `of` to show `text` and `reply_markup`;
    False when there is no such message.

    The latest edit wins: it replaces the content of an edit not sent yet, or of the message
    itself while that is still waiting to be sent (then no edit is needed). An edit being
    sent keeps its claim; its sender finds the content changed when it records the answer
    (`mark_sent`) and leaves the row due, so the newer content follows and an older one
    never lands after it.
    `in_flight`: the caller sends it right after the commit (`claim_key`).
    """
    target = (
        await session.exec(select(Notification).where(Notification.key == of).with_for_update())
    ).first()
    if target is None:
        return False
    key = edit_key(of)
    if target.status == NotificationStatus.PENDING and target.error != IN_FLIGHT:
        # Not shown yet (nor being sent): it goes out as it is now, and there is nothing to
        # edit (an edit queued while it was on the way, before Telegram refused it, is moot).
        target.text, target.parse_mode = content.text, content.parse_mode
        target.reply_markup = content.reply_markup
        session.add(target)
        await session.exec(delete(Notification).where(col(Notification.key) == key))
        return True
    values = _new_row(key, target.chat_id, content, now, in_flight)
    inserted = await session.exec(
        insert_on_conflict(session, Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    if inserted.rowcount:
        return True
    row = (
        await session.exec(select(Notification).where(Notification.key == key).with_for_update())
    ).one()
    row.text, row.parse_mode, row.reply_markup = (
        content.text,
        content.parse_mode,
        content.reply_markup,
    )
    row.attempts = 0
    if not (row.status == NotificationStatus.PENDING and row.error == IN_FLIGHT):
        row.status = NotificationStatus.PENDING
        row.next_attempt_at, row.error = values["next_attempt_at"], values["error"]
    session.add(row)
    return True


async def _attempt_failed(
    session: AsyncSession, notification_id: int, error: str
) -> Notification | None:
    """Count a failed attempt and keep its error; None when the row is gone."""
    notification = await session.get(Notification, notification_id)
    if notification is not None:
        notification.attempts += 1
        notification.error = error[:500]
    return notification


async def mark_retry(
    session: AsyncSession,
    notification_id: int,
    *,
    error: str,
    now: datetime,
    delay: timedelta | None = None,
) -> None:
    """Telegram could not take it now (429, 5xx, timeout): try later with backoff."""
    notification = await _attempt_failed(session, notification_id, error)
    if notification is None:
        return
    if notification.attempts >= MAX_ATTEMPTS:
        notification.status = NotificationStatus.FAILED
    else:
        backoff = timedelta(seconds=min(600, 2**notification.attempts))
        notification.next_attempt_at = now + max(backoff, delay or timedelta(0))
    session.add(notification)


async def mark_undeliverable(
    session: AsyncSession, notification_id: int, *, error: str, unreachable: bool
) -> None:
    """Telegram refused it for good: blocked/never started (unreachable) or a bad request."""
    notification = await _attempt_failed(session, notification_id, error)
    if notification is None:
        return
    notification.status = (
        NotificationStatus.UNREACHABLE if unreachable else NotificationStatus.FAILED
    )
    session.add(notification)


async def sent_message_id(session: AsyncSession, key: str) -> int | None:
    """The Telegram message id a delivered notification got (to edit it later)."""
    query = select(Notification.message_id).where(Notification.key == key)
    return (await session.exec(query)).first()


async def sent_to(session: AsyncSession, key: str) -> tuple[int, int] | None:
    """(chat id, message id) of a delivered notification, or None while it is not delivered."""
    query = select(Notification.chat_id, Notification.message_id).where(
        Notification.key == key,
        Notification.status == NotificationStatus.SENT,
        col(Notification.message_id).is_not(None),
    )
    row = (await session.exec(query)).first()
    if row is None or row[1] is None:
        return None
    return int(row[0]), int(row[1])


async def sent_with_prefix(session: AsyncSession, *prefixes: str) -> list[Notification]:
    """The delivered notifications whose key starts with one of the prefixes (to edit those
    messages later)."""
    if not prefixes:
        return []
    query = select(Notification).where(
        or_(*(col(Notification.key).startswith(p, autoescape=True) for p in prefixes)),
        Notification.status == NotificationStatus.SENT,
        col(Notification.message_id).is_not(None),
    )
    return list((await session.exec(query.order_by(col(Notification.id)))).all())


async def reachable_again(
    session: AsyncSession, chat_id: int, *, since: datetime, now: datetime
) -> int:
    """The person opened their private chat with the bot (/start): what Telegram refused to
    deliver to them since `since` (403: they had never started it, or had blocked it) is sent
    after all. Returns how many notifications wait again."""
    result = await session.exec(
        update(Notification)
        .where(
            col(Notification.chat_id) == chat_id,
            col(Notification.status) == NotificationStatus.UNREACHABLE,
            col(Notification.created_at) >= since,
        )
        .values(status=NotificationStatus.PENDING, next_attempt_at=now, error=None)
    )
    return int(result.rowcount or 0)
