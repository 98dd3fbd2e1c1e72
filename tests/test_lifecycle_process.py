"""The lifecycle of the shipped process (`houqin run`), with Telegram as far away as it is.

Each test runs `python -m bot.cli run` as a subprocess against the in-test Bot API sandbox,
where every call takes 0.3–0.5 s (or 0.05–0.1 s where many messages go out), half on the way
there and half on the way back, as with the real Bot API. What a user would notice is checked:

a. a job missed while the bot was down (the evening work-log reminder) is caught up once at
   start-up, however long the start takes, and not again at the next start;
b. SIGTERM in the middle of a 150-message broadcast, three times in a row: every message
   arrives exactly once;
c. ten photos sent as an album to the report form: the replies come in order and the form's
   summary counts 10 photos.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from devtools.harness import WAIT, BotProcess, profile_with_reminder_at, until
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from school.clock import SystemClock
from school.profile import SchoolProfile
from storage import outbox as stored_outbox
from storage.database import Database
from storage.models import Notification, NotificationStatus, Person, Role, ScheduledRun

pytestmark = pytest.mark.slow

TELEGRAM_LATENCY = (0.3, 0.5)
BROADCAST_LATENCY = (0.05, 0.1)  # 150 messages one at a time: 11 s instead of a minute
CAUGHT_UP = "caught up after start"
RECEIVED = re.compile(r"(\d+) photo\(s\) received")


@pytest.fixture
async def far_sandbox() -> AsyncIterator[BotApiSandbox]:
    async with BotApiSandbox(latency=TELEGRAM_LATENCY) as running:
        yield running


def _check_requests(sandbox: BotApiSandbox) -> None:
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


async def _staff(db: Database, user: SandboxUser, name: str) -> Person:
    async with db.transaction() as session:
        person = Person(
            telegram_id=user.id,
            name=name,
            role=Role.STAFF,
            post_key="plumber",
            language="en",
            created_at=SystemClock().now(),
        )
        session.add(person)
    return person


# --- a. catch-up at start-up -----------------------------------------------------------------


async def _runs(db: Database, job: str) -> list[ScheduledRun]:
    async with db.reading() as session:
        query = select(ScheduledRun).where(ScheduledRun.job == job)
        return list((await session.exec(query.order_by(col(ScheduledRun.occurrence)))).all())


async def test_a_missed_reminder_is_caught_up_once_at_start_up(
    far_sandbox: BotApiSandbox, tmp_path: Path, database: Database, profile: SchoolProfile
) -> None:
    sandbox = far_sandbox
    # The reminder was due 20 minutes ago (inside its 2-hour catch-up window); the bot was down.
    due = (SystemClock().now() - timedelta(minutes=20)).astimezone(profile.tz)
    school = profile_with_reminder_at(tmp_path / "school.toml", due)
    plumber = sandbox.add_user("李师傅", language_code="en")
    plumber.started = True
    await _staff(database, plumber, "李师傅")

    def reminders() -> list[SentMessage]:
        return [
            m
            for m in sandbox.messages(plumber.id, from_bot=True)
            if "not filed your work log" in m.shown_text
        ]

    settings = {"HOUQIN_SCHOOL_PROFILE": str(school), "HOUQIN_LOG_LEVEL": "INFO"}
    bot = BotProcess(sandbox, tmp_path, database.url, env=settings)
    try:
        await bot.start(timeout=60)
        await until(lambda: len(reminders()) == 1, "the caught-up reminder", timeout=30)
        [run] = await _runs(database, "worklogs.reminder")
        assert run.occurrence == due.replace(second=0, microsecond=0)
        assert run.claimed_at > run.occurrence  # it ran late: it was missed while down
        assert await bot.stop() == 0

        await bot.start(timeout=60)
        await until(lambda: CAUGHT_UP in bot.last_log(), "the second catch-up", timeout=30)
        assert await bot.stop() == 0
    finally:
        if bot.process is not None:
            await bot.kill()
    assert len(reminders()) == 1
    assert len(await _runs(database, "worklogs.reminder")) == 1
    assert "was missed by" not in bot.logs()  # APScheduler dropped nothing
    assert "INFO apscheduler" not in bot.logs()  # nor logs each run of the 5-second job
    _check_requests(sandbox)


# --- b. SIGTERM during a broadcast -----------------------------------------------------------

BROADCAST = 150


async def _person(db: Database, user: SandboxUser, name: str, role: Role) -> None:
    async with db.transaction() as session:
        session.add(
            Person(
                telegram_id=user.id,
                name=name,
                role=role,
                language="en",
                created_at=SystemClock().now(),
            )
        )


async def test_b_sigterm_during_a_broadcast_three_times_delivers_each_message_once(
    tmp_path: Path, database: Database
) -> None:
    async with BotApiSandbox(latency=TELEGRAM_LATENCY) as sandbox:
        staff = [sandbox.add_user(f"员工{i:03d}") for i in range(BROADCAST)]
        for user in staff:
            user.started = True  # each has /start-ed the bot before
        teacher = sandbox.add_user("王芳", language_code="en")
        await _person(database, teacher, "王芳", Role.TEACHER)
        now = SystemClock().now()  # the subprocess runs on the real clock
        async with database.transaction() as session:
            for user in staff:
                await stored_outbox.enqueue(
                    session,
                    key=f"broadcast:{user.id}",
                    chat_id=user.id,
                    content=stored_outbox.Content(f"今天的工作日志还没有填写 ({user.id})"),
                    now=now,
                )
        staff_ids = {user.id for user in staff}

        def arrived() -> Counter[int]:
            return Counter(
                m.chat_id for m in sandbox.messages(from_bot=True) if m.chat_id in staff_ids
            )

        bot = BotProcess(sandbox, tmp_path, database.url)
        at_stop = []
        try:
            for round_ in range(3):
                await bot.start()
                goal = sum(arrived().values()) + 5
                # A report: its card goes out in the background, behind the queued broadcast.
                await teacher.send(f"/report 实验楼{round_ + 1}楼女厕水龙头一直滴水", settle=False)
                await until(lambda: sum(arrived().values()) >= goal, "5 more messages")  # noqa: B023
                assert await bot.stop() == 0  # SIGTERM in the middle of the broadcast
                at_stop.append(sum(arrived().values()))
            sandbox.latency = BROADCAST_LATENCY  # the rest at 0.05-0.1 s: 10 s, not a minute
            await bot.start()
            await until(lambda: len(arrived()) == BROADCAST, "every message", timeout=60)
            for _ in range(100):  # the last one arrived; its row is marked just after
                async with database.reading() as session:
                    if await stored_outbox.pending_count(session) == 0:
                        break
                await asyncio.sleep(0.1)
            assert await bot.stop() == 0
        finally:
            if bot.process is not None:
                await bot.kill()
        _check_requests(sandbox)

    assert at_stop == sorted(at_stop) and at_stop[-1] < BROADCAST, at_stop  # stopped midway
    per_chat = arrived()
    assert set(per_chat) == staff_ids  # nothing lost
    assert [chat for chat, count in per_chat.items() if count > 1] == []  # nothing twice
    async with database.reading() as session:
        statuses = Counter((await session.exec(select(Notification.status))).all())
    assert set(statuses) == {NotificationStatus.SENT}
    assert statuses[NotificationStatus.SENT] >= BROADCAST


# --- c. an album to the report form ----------------------------------------------------------


async def test_c_an_album_of_ten_photos_is_answered_in_order_and_counted(
    far_sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> None:
    sandbox = far_sandbox
    teacher = sandbox.add_user("王芳", language_code="en")
    await _person(database, teacher, "王芳", Role.TEACHER)
    bot = BotProcess(sandbox, tmp_path, database.url)

    async def step(act: str, expect: str, *, press: bool = True) -> SentMessage:
        mark = sandbox.mark()
        if press:
            await teacher.press(sandbox.last_message(teacher.id), act, settle=False)
        else:
            await teacher.send(act, settle=False)
        return await sandbox.wait_for_message(
            teacher.id, lambda m: expect in m.shown_text, since=mark, timeout=WAIT
        )

    try:
        await bot.start(timeout=60)
        await step("/report", "What kind of fault", press=False)
        await step("电/照明", "Where is it")
        await step("本部·教学楼", "Which floor")
        await step("Not sure / whole building", "What is wrong")
        await step("走廊灯不亮，开关没反应", "Send photos", press=False)

        mark = sandbox.mark()
        # A phone uploads an album's photos one by one: the bot fetches them in several batches.
        await teacher.send_album(10, interval=0.1, settle=False)
        await sandbox.wait_for_message(
            teacher.id, lambda m: "How urgent" in m.shown_text, since=mark, timeout=WAIT
        )
        await asyncio.sleep(1.0)  # an answer out of order would come now
        answers = [m.shown_text for m in sandbox.bot_messages_since(mark)]
        acknowledgments = [
            [version.text or "" for version in m.edits] + [m.text or ""]
            for m in sandbox.bot_messages_since(mark)
            if RECEIVED.search(m.shown_text)
        ]
        summary = await step("一般", "Please check")
        assert await bot.stop() == 0
    finally:
        if bot.process is not None:
            await bot.kill()
    _check_requests(sandbox)

    # One answer for the album, edited as its photos came, in order: 1, 2, … 9 received (the
    # tenth completes the step).
    assert len(acknowledgments) == 1, answers
    counts = [int(found[1]) for found in map(RECEIVED.search, acknowledgments[0]) if found]
    assert counts == list(range(1, 10)), acknowledgments
    assert "How urgent" in answers[-1], answers
    assert "Photos: 10" in summary.shown_text
