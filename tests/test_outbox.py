"""Notifications survive Telegram's refusals: retried later, delivered once, 403 stops."""

from __future__ import annotations

from datetime import timedelta

from devtools.harness import running_bot
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
