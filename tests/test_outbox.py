"""Notifications survive Telegram's refusals: retried later, delivered once, 403 stops."""

from __future__ import annotations

from datetime import timedelta

from devtools.harness import running_bot, until
from devtools.sandbox.server import BotApiSandbox
from notices import outbox
from notices.services import Services
from school.clock import ManualClock
from storage import outbox as stored_outbox
from storage.models import Notification, NotificationStatus, Role
from tests.helpers import person_of, register


async def _queue(services: Services, chat_id: int, key: str, text: str) -> bool:
    async with services.database.transaction() as session:
        return await outbox.notify(session, services, key=key, chat_id=chat_id, text=text)


async def _status(services: Services, key: str) -> Notification:
    from sqlmodel import select

    async with services.database.transaction() as session:
        row = (await session.exec(select(Notification).where(Notification.key == key))).one()
    return row


async def test_same_key_is_queued_once(services: Services, sandbox: BotApiSandbox) -> None:
    teacher = sandbox.add_user("王老师")
    assert await _queue(services, teacher.id, "k1", "第一次")
    assert not await _queue(services, teacher.id, "k1", "第二次")
    async with services.database.transaction() as session:
        assert await stored_outbox.pending_count(session) == 1


async def test_5xx_and_dropped_connections_are_retried_and_delivered_once(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        teacher = await register(sandbox, services, "王老师", Role.TEACHER)
        await _queue(services, teacher.id, "n:500", "维修已完成")
        await _queue(services, teacher.id, "n:drop", "请验收")
        sandbox.fail_next("sendMessage", status=500)
        sandbox.fail_next("sendMessage", status=0)
        first = await outbox.deliver(application.bot, services)
        assert first.sent == 0 and first.retrying == 2
        assert (await _status(services, "n:500")).status == NotificationStatus.PENDING

        again = await outbox.deliver(application.bot, services)
        assert again.sent == 0  # the backoff has not passed yet
        clock.advance(timedelta(minutes=1))
        later = await outbox.deliver(application.bot, services)
        assert later.sent == 2
        texts = [m.shown_text for m in sandbox.messages(teacher.id, from_bot=True)]
        assert texts.count("维修已完成") == 1 and texts.count("请验收") == 1
        assert (await outbox.deliver(application.bot, services)).sent == 0


async def test_429_is_absorbed_by_the_rate_limiter(
    services: Services, sandbox: BotApiSandbox
) -> None:
    async with running_bot(services, sandbox) as application:
        teacher = await register(sandbox, services, "王老师", Role.TEACHER)
        await _queue(services, teacher.id, "n:429", "工单已接单")
        sandbox.fail_next("sendMessage", status=429, retry_after=1)
        report = await outbox.deliver(application.bot, services)
        assert report.sent == 1
        assert sandbox.stats["429"] == 1
        assert (await _status(services, "n:429")).status == NotificationStatus.SENT


async def test_a_blocked_user_is_marked_unreachable_not_retried(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        teacher = await register(sandbox, services, "王老师", Role.TEACHER)
        await teacher.block_bot()
        await _queue(services, teacher.id, "n:403", "工单已接单")
        report = await outbox.deliver(application.bot, services)
        assert report.undeliverable == 1
        assert (await _status(services, "n:403")).status == NotificationStatus.UNREACHABLE
        assert not (await person_of(services, teacher)).reachable
        clock.advance(timedelta(hours=1))
        assert (await outbox.deliver(application.bot, services)).sent == 0


async def test_a_clean_stop_finishes_the_message_being_sent_and_hands_back_the_rest(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """What SIGTERM does to a delivery (bot.lifecycle): nothing is cut after Telegram took a
    message and before it is recorded, so the next start sends each of the rest once."""
    from sqlmodel import select

    sandbox.latency = (0.02, 0.06)  # Telegram takes the message halfway through the call
    users = [sandbox.add_user(f"员工{i:02d}") for i in range(30)]
    for user in users:
        user.started = True
        await _queue(services, user.id, f"n:{user.id}", "今天的工作日志还没有填写")

    def arrived() -> list[int]:
        return [m.chat_id for m in sandbox.messages(from_bot=True)]

    async with running_bot(services, sandbox) as application:
        outbox.deliver_soon(application.bot, services)
        await until(lambda: len(arrived()) >= 5, "five messages")
    # Stopped (the lifecycle's stop): the message being sent completed and was recorded.
    assert outbox.is_idle()
    async with services.database.reading() as session:
        rows = (await session.exec(select(Notification))).all()
    sent = sorted(row.chat_id for row in rows if row.status == NotificationStatus.SENT)
    assert sent == sorted(arrived()) and 5 <= len(sent) < len(users)
    rest = [row for row in rows if row.status != NotificationStatus.SENT]
    assert all(row.status == NotificationStatus.PENDING and row.error is None for row in rest)

    async with running_bot(services, sandbox) as application:
        report = await outbox.deliver(application.bot, services)
    assert report.sent == len(rest)
    assert sorted(arrived()) == sorted(user.id for user in users)  # each once
