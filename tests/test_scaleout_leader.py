"""Scale-out: one leader among the workers runs the schedule and sends the outbox (bot.leader).

Two worker processes (`python -m bot.cli run`, webhook mode, HOUQIN_SCALE_OUT) on one
PostgreSQL database, behind the sandbox spreading the updates over them as a reverse proxy
would (devtools.harness.Workers). What a user would notice is checked:

a. the evening work-log reminder, due while both workers run, reaches each person once;
b. the leader killed with SIGKILL just before the reminder is due: the other worker takes over
   within seconds (its log says so) and the reminder reaches each person once;
c. a repair report filed through the worker that does not lead: its card reaches the director
   once, within a second (the leader is woken, not left to its 5-second pass);
d. a report with a photo filed through that worker: the leader posts the card in the repair
   group, and the photo follows under it, once;
e. the leader's connection to PostgreSQL cut (pg_terminate_backend): it stops leading at once
   (its log says so) and a worker leads again within seconds.

PostgreSQL only: skipped when TEST_POSTGRES_URL is unreachable.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from bot.leader import STOPPED_LEADING, TOOK_OVER
from devtools.harness import WAIT, BotProcess, Workers, profile_with_reminder_at, until
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from school.clock import SystemClock
from school.profile import SchoolProfile
from storage import groups, leadership
from storage.database import Database
from storage.models import GroupPurpose, Person, Role, ScheduledRun

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database", ["postgresql"], indirect=True),
]

REMINDER = "not filed your work log"
# Two workers start within this many seconds; the reminder is set to the first whole minute
# after it, so it falls while both run.
START_MARGIN = timedelta(seconds=12)
NUMBER = re.compile(r"BX-\d{4}-\d{3}")


async def _person(db: Database, user: SandboxUser, name: str, role: Role) -> None:
    user.started = True  # each has /start-ed the bot before
    async with db.transaction() as session:
        session.add(
            Person(
                telegram_id=user.id,
                name=name,
                role=role,
                post_key="plumber" if role == Role.STAFF else None,
                language="en",
                created_at=SystemClock().now(),
            )
        )


def _next_minute(profile: SchoolProfile, margin: timedelta) -> datetime:
    """The first whole minute at least `margin` from now (school time)."""
    soon = (SystemClock().now() + margin).astimezone(profile.tz)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def _runs(db: Database, job: str) -> list[ScheduledRun]:
    async with db.reading() as session:
        query = select(ScheduledRun).where(ScheduledRun.job == job)
        return list((await session.exec(query.order_by(col(ScheduledRun.occurrence)))).all())


async def _leader(workers: Workers) -> BotProcess:
    """The worker whose log says it leads (exactly one does), once it has taken the lock."""

    def leading() -> list[BotProcess]:
        return [w for w in workers.processes if w.process and TOOK_OVER in w.last_log()]

    await until(lambda: len(leading()) >= 1, "a worker to lead", timeout=WAIT)
    [leader] = leading()
    return leader


def _reminders(sandbox: BotApiSandbox, staff: list[SandboxUser]) -> Counter[int]:
    ids = {user.id for user in staff}
    return Counter(
        m.chat_id
        for m in sandbox.messages(from_bot=True)
        if m.chat_id in ids and REMINDER in m.shown_text
    )


async def _staff_and_workers(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database, moment: datetime
) -> tuple[list[SandboxUser], Workers]:
    school = profile_with_reminder_at(tmp_path / "school.toml", moment)
    staff = [sandbox.add_user(name, language_code="en") for name in ("李师傅", "赵师傅", "钱阿姨")]
    for user in staff:
        await _person(database, user, user.name, Role.STAFF)
    settings = {"HOUQIN_SCHOOL_PROFILE": str(school), "HOUQIN_LOG_LEVEL": "INFO"}
    return staff, Workers(sandbox, tmp_path, database.url, 2, env=settings)


async def _wait_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - SystemClock().now()).total_seconds()))


async def _kill_all(workers: Workers) -> None:
    for worker in workers.processes:
        if worker.process is not None:
            await worker.kill()


def _mentioning(text: str) -> Callable[[SentMessage], bool]:
    return lambda message: text in message.shown_text


def _check_requests(sandbox: BotApiSandbox) -> None:
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


# --- a. a job fires once with two workers ----------------------------------------------------


async def test_a_the_reminder_reaches_each_person_once_with_two_workers(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database, profile: SchoolProfile
) -> None:
    moment = _next_minute(profile, START_MARGIN)
    staff, workers = await _staff_and_workers(sandbox, tmp_path, database, moment)
    try:
        await workers.start()
        leader = await _leader(workers)
        assert await leadership.leader_backend(database) is not None  # seen in pg_locks
        assert _reminders(sandbox, staff) == Counter()  # not due yet: nothing caught up
        await _wait_until(moment)
        await until(lambda: len(_reminders(sandbox, staff)) == 3, "the reminders", timeout=15)
        await asyncio.sleep(2.0)  # a second reminder from the other worker would come now
        others = [w for w in workers.processes if w is not leader]
        for worker in [*others, leader]:  # the others first: none of them takes over
            await worker.stop()
    finally:
        await _kill_all(workers)
    _check_requests(sandbox)

    assert _reminders(sandbox, staff) == Counter({user.id: 1 for user in staff})
    [run] = await _runs(database, "worklogs.reminder")
    assert run.occurrence == moment
    assert run.claimed_at - run.occurrence < timedelta(seconds=5)  # the timer, not a catch-up
    assert "running job worklogs.reminder" in leader.logs()
    assert all(TOOK_OVER not in w.logs() for w in others)
    assert all("running job worklogs.reminder" not in w.logs() for w in others)


# --- b. the leader dies; the other worker takes over -----------------------------------------


async def test_b_the_leaders_death_hands_the_jobs_over(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database, profile: SchoolProfile
) -> None:
    moment = _next_minute(profile, START_MARGIN + timedelta(seconds=3))
    staff, workers = await _staff_and_workers(sandbox, tmp_path, database, moment)
    try:
        await workers.start()
        leader = await _leader(workers)
        [survivor] = [w for w in workers.processes if w is not leader]
        await _wait_until(moment - timedelta(seconds=3))
        assert _reminders(sandbox, staff) == Counter()
        await leader.kill()  # SIGKILL: no shutdown code runs, the lock is never released
        killed = time.monotonic()
        await until(lambda: TOOK_OVER in survivor.last_log(), "the takeover", timeout=10)
        takeover = time.monotonic() - killed
        await until(lambda: len(_reminders(sandbox, staff)) == 3, "the reminders", timeout=15)
        await asyncio.sleep(2.0)
        await survivor.stop()
    finally:
        await _kill_all(workers)
    _check_requests(sandbox)

    print(f"takeover after the leader's SIGKILL: {takeover:.2f} s")
    assert takeover < 5.0, takeover
    assert _reminders(sandbox, staff) == Counter({user.id: 1 for user in staff})
    [run] = await _runs(database, "worklogs.reminder")
    assert run.occurrence == moment and run.finished_at is not None
    assert "running job worklogs.reminder" in survivor.logs()
    assert "running job worklogs.reminder" not in leader.logs()


# --- c. a notification queued by a worker that does not lead ---------------------------------


async def test_c_a_card_queued_by_the_other_worker_is_sent_once_and_promptly(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> None:
    director = sandbox.add_user("张主任", language_code="en")
    teacher = sandbox.add_user("王芳", language_code="en")
    await _person(database, director, "张主任", Role.DIRECTOR)
    await _person(database, teacher, "王芳", Role.TEACHER)
    workers = Workers(sandbox, tmp_path, database.url, 2, env={"HOUQIN_LOG_LEVEL": "INFO"})
    delays: list[float] = []
    numbers: list[str] = []
    try:
        await workers.start()
        leader = await _leader(workers)
        [other] = [w for w in workers.processes if w is not leader]
        workers.spread([other])  # every update goes to the worker that does not lead
        for floor in (1, 2, 3):
            mark = sandbox.mark()
            await teacher.send(f"/report 实验楼{floor}楼女厕水龙头一直滴水", settle=False)
            answer = await sandbox.wait_for_message(
                teacher.id, lambda m: NUMBER.search(m.shown_text) is not None, since=mark
            )
            answered = time.monotonic()
            found = NUMBER.search(answer.shown_text)
            assert found is not None
            number = found[0]
            numbers.append(number)
            await sandbox.wait_for_message(
                director.id, _mentioning(number), since=mark, timeout=WAIT
            )
            delays.append(time.monotonic() - answered)
        await asyncio.sleep(2.0)  # a second card (another pass, another worker) would come now
        await workers.stop()
    finally:
        await _kill_all(workers)
    _check_requests(sandbox)

    print("card after the reporter's answer: " + ", ".join(f"{d:.2f} s" for d in delays))
    # Woken through PostgreSQL: well before the leader's 5-second pass would send it.
    assert all(delay < 1.5 for delay in delays), delays
    for number in numbers:
        cards = [m for m in sandbox.messages(director.id, from_bot=True) if number in m.shown_text]
        answers = [m for m in sandbox.messages(teacher.id, from_bot=True) if number in m.shown_text]
        assert len(cards) == 1, number
        assert len(answers) == 1, number


# --- d. a report's photo follows its card -----------------------------------------------------


async def test_d_the_photo_of_a_report_filed_through_the_other_worker_follows_its_card(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> None:
    director = sandbox.add_user("张主任", language_code="en")
    teacher = sandbox.add_user("王芳", language_code="en")
    await _person(database, director, "张主任", Role.DIRECTOR)
    await _person(database, teacher, "王芳", Role.TEACHER)
    repair = sandbox.add_group("维修群", members=[director])
    repair.bot_status = "member"  # the bot was added (and the group bound) before
    async with database.transaction() as session:
        boss = (await session.exec(select(Person).where(Person.telegram_id == director.id))).one()
        await groups.bind_group(
            session,
            chat_id=repair.id,
            title=repair.title,
            purpose=GroupPurpose.REPAIR,
            director=boss,
            now=SystemClock().now(),
        )
    workers = Workers(sandbox, tmp_path, database.url, 2, env={"HOUQIN_LOG_LEVEL": "INFO"})

    async def step(act: str, expect: str, *, press: bool = True) -> None:
        mark = sandbox.mark()
        if press:
            await teacher.press(sandbox.last_message(teacher.id), act, settle=False)
        else:
            await teacher.send(act, settle=False)
        await sandbox.wait_for_message(teacher.id, _mentioning(expect), since=mark, timeout=WAIT)

    try:
        await workers.start()
        leader = await _leader(workers)
        [other] = [w for w in workers.processes if w is not leader]
        workers.spread([other])  # the form is filled in through the worker that does not lead
        await step("/report", "What kind of fault", press=False)
        await step("水暖", "Where is it")
        await step("本部·实验楼", "Which floor")
        await step("3楼", "Which room")
        await step("女厕", "What is wrong")
        await step("水龙头一直滴水，关不紧", "Send photos", press=False)
        mark = sandbox.mark()
        await teacher.send_photo(settle=False)
        await sandbox.wait_for_message(teacher.id, _mentioning("received"), since=mark)
        await step("Done", "How urgent")
        await step("一般", "Please check")
        mark = sandbox.mark()
        await teacher.press(sandbox.last_message(teacher.id), "Submit", settle=False)
        card = await sandbox.wait_for_message(repair.id, _mentioning("实验楼"), since=mark)
        photo = await sandbox.wait_for_message(
            repair.id, lambda m: m.kind == "photo", since=mark, timeout=WAIT
        )
        await asyncio.sleep(2.0)  # a second card or photo would come now
        await workers.stop()
    finally:
        await _kill_all(workers)
    _check_requests(sandbox)

    in_group = sandbox.messages(repair.id, from_bot=True)
    assert [m.message_id for m in in_group if m.buttons] == [card.message_id]
    assert [m.message_id for m in in_group if m.kind == "photo"] == [photo.message_id]
    assert photo.reply_to == card.message_id


# --- e. the leader loses its connection ---------------------------------------------------------


async def test_e_a_leader_that_loses_its_connection_stops_leading_and_another_leads(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> None:
    workers = Workers(sandbox, tmp_path, database.url, 2, env={"HOUQIN_LOG_LEVEL": "INFO"})
    try:
        await workers.start()
        leader = await _leader(workers)
        backend = await leadership.leader_backend(database)
        assert backend is not None
        async with database.connection() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        cut = time.monotonic()
        await until(lambda: STOPPED_LEADING in leader.last_log(), "the leader to step down")
        stepped_down = time.monotonic() - cut
        for _ in range(int(WAIT / 0.1)):
            now_held = await leadership.leader_backend(database)
            if now_held is not None and now_held != backend:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no worker leads again")
        again = time.monotonic() - cut
        await until(
            lambda: sum(w.last_log().count(TOOK_OVER) for w in workers.processes) == 2,
            "the new leader's log",
        )
        await workers.stop()
    finally:
        await _kill_all(workers)
    _check_requests(sandbox)

    print(f"connection cut: stepped down after {stepped_down:.2f} s, led again after {again:.2f} s")
    assert stepped_down < 3.0 and again < 5.0, (stepped_down, again)
