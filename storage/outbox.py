"""The notification outbox: queued in the same transaction as the change, delivered after."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
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


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    text: str,
    now: datetime,
    parse_mode: str | None = "HTML",
    reply_markup: dict[str, Any] | None = None,
    photo_file_id: str | None = None,
    in_flight: bool = False,
) -> bool:
    """Queue a message; returns False when one with this key was already queued (idempotent).

    `in_flight`: the caller sends it itself right after the commit (`claimed` finds it), so
    it is queued already claimed; if that send never happens, the lease makes it due again.
    """
    values = {
        "key": key[:160],
        "chat_id": chat_id,
        "text": text,
        "parse_mode": parse_mode,
        "reply_markup": reply_markup,
        "photo_file_id": photo_file_id,
        "status": NotificationStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now + IN_FLIGHT_LEASE if in_flight else now,
        "error": IN_FLIGHT if in_flight else None,
        "created_at": now,
    }
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
    """A notification claimed for sending, as it is at that moment."""

    id: int
    key: str
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    photo_file_id: str | None


_CLAIMED_COLUMNS = (
    col(Notification.id),
    col(Notification.key),
    col(Notification.chat_id),
    col(Notification.text),
    col(Notification.parse_mode),
    col(Notification.reply_markup),
    col(Notification.photo_file_id),
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
    caller to send, or one that is due again; None when there is nothing to send.

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
    session: AsyncSession, notification_id: int, *, message_id: int | None, now: datetime
) -> None:
    """Delivered."""
    notification = await session.get(Notification, notification_id)
    if notification is not None:
        notification.status = NotificationStatus.SENT
        notification.sent_at = now
        notification.message_id = message_id
        notification.attempts += 1
        if notification.error == IN_FLIGHT:
            notification.error = None
        session.add(notification)


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
