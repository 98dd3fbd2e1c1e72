"""Notifications survive Telegram's refusals: retried later, delivered once, 403 stops."""

from __future__ import annotations

import asyncio
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


async def _edit(services: Services, of: str, text: str) -> bool:
    async with services.database.transaction() as session:
        return await outbox.queue_edit(session, services, of=of, text=text)


async def test_an_edit_telegram_finds_already_shown_counts_as_done(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        teacher = await register(sandbox, services, "王芳", Role.TEACHER)
        await _queue(services, teacher.id, "card", "待接单")
        await outbox.deliver(application.bot, services)
        assert await _edit(services, "card", "待接单")  # e.g. sent again after a time-out
        report = await outbox.deliver(application.bot, services)
        assert report.sent == 1 and report.retrying == 0
        assert (await _status(services, "edit:card")).status == NotificationStatus.SENT
        assert await _edit(services, "card", "已接单")
        assert (await outbox.deliver(application.bot, services)).sent == 1
        clock.advance(timedelta(hours=1))
        assert (await outbox.deliver(application.bot, services)).sent == 0
        [message] = sandbox.messages(teacher.id, from_bot=True)[-1:]
        assert message.shown_text == "已接单"
        assert not await _edit(services, "no such message", "已接单")


async def test_an_edit_of_a_message_not_sent_yet_is_sent_with_it_or_right_after(
    services: Services, sandbox: BotApiSandbox
) -> None:
    async with running_bot(services, sandbox) as application:
        teacher = await register(sandbox, services, "王芳", Role.TEACHER)
        before = len(sandbox.messages(teacher.id, from_bot=True))
        await _queue(services, teacher.id, "waiting", "待接单")
        assert await _edit(services, "waiting", "已接单")  # not sent yet: it goes as it is now
        await outbox.deliver(application.bot, services)
        sent = sandbox.messages(teacher.id, from_bot=True)[before:]
        assert [m.shown_text for m in sent] == ["已接单"] and not sent[0].edits

        sandbox.latency = 0.3  # Telegram takes the message halfway through the call
        await _queue(services, teacher.id, "on the way", "待接单")
        delivering = asyncio.create_task(outbox.deliver(application.bot, services))
        await until(lambda: sandbox.stats["requests"] > 0 and _on_the_way(sandbox), "the send")
        assert await _edit(services, "on the way", "维修中")  # while it is being sent
        await delivering
        message = sandbox.messages(teacher.id, from_bot=True)[-1]
        assert message.shown_text == "维修中" and len(message.edits) == 1


def _on_the_way(sandbox: BotApiSandbox) -> bool:
    return any(m.shown_text == "待接单" for m in sandbox.messages(from_bot=True)[-1:])


async def test_a_worker_that_does_not_send_wakes_the_sender_instead(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """Scale-out: a worker that is not the leader sends nothing from the queue; it wakes the
    leader (bot.leader installs the wake-up) and the row stays pending for it."""
    async with running_bot(services, sandbox) as application:
        teacher = await register(sandbox, services, "王老师", Role.TEACHER)
        before = len(sandbox.messages(teacher.id, from_bot=True))
        woken: list[str] = []
        outbox.send_elsewhere(lambda: woken.append("wake"))
        try:
            assert outbox.sent_elsewhere()
            await _queue(services, teacher.id, "n:elsewhere", "维修已完成")
            outbox.deliver_soon(application.bot, services)
            assert (await outbox.deliver(application.bot, services)).sent == 0
            assert outbox.is_idle() and woken == ["wake", "wake"]
            assert (await _status(services, "n:elsewhere")).status == NotificationStatus.PENDING
        finally:
            outbox.send_elsewhere(None)
        assert len(sandbox.messages(teacher.id, from_bot=True)) == before
        assert (await outbox.deliver(application.bot, services)).sent == 1  # now it sends


async def test_answers_sent_during_a_broadcast_take_their_share_of_the_30_a_second(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """Telegram takes about 30 messages a second from a bot overall; the answers to people
    acting go straight out (they never wait behind a broadcast), so the queue leaves a slot
    of those 30 for each of them. Were it to send at its own 30 a second regardless, the
    two together would go over and Telegram would refuse the answers with 429."""
    users = [sandbox.add_user(f"员工{i:02d}") for i in range(60)]
    for user in users:
        user.started = True
        await _queue(services, user.id, f"n:{user.id}", "今天的工作日志还没有填写")

    def arrived() -> int:
        return len(sandbox.messages(from_bot=True))

    loop = asyncio.get_running_loop()
    async with running_bot(services, sandbox) as application:
        delivery = asyncio.create_task(outbox.deliver(application.bot, services))
        await until(lambda: arrived() >= 1, "the broadcast under way")
        started, before = loop.time(), arrived()
        answers = 40
        for _ in range(answers):  # 20 answers a second for two seconds
            outbox.sent_directly(1)  # what bot.rate_limit records for each answer
            await asyncio.sleep(0.05)
        seconds = loop.time() - started
        meanwhile = arrived() - before
        # 30 a second over the window, give or take the slot the limiter holds and the last
        # answers not yet made room for (sending regardless: 87-91 here, against 61-64).
        assert meanwhile + answers <= outbox.BROADCAST_RATE * seconds + 5, (meanwhile, seconds)
        assert meanwhile > 0  # the broadcast was not stopped, only slowed
        report = await delivery
    assert report.sent == len(users)
    assert sorted(m.chat_id for m in sandbox.messages(from_bot=True)) == sorted(
        user.id for user in users
    )  # each once
