"""Crashes lose nothing: `houqin run` killed with SIGKILL at bad moments, then started again.

Each process-level test runs the shipped command (`python -m bot.cli run`) as a subprocess
against the in-test Bot API sandbox and a SQLite file, kills it with SIGKILL (no clean-up at
all) and starts it again on the same database. What is guaranteed, and checked here:

- a half-filled form resumes at the step the user reached;
- a ticket is filed once, and its card reaches the repair group once, with its message id
  stored on the ticket so later changes edit it in place;
- every queued notification is delivered; a crash may repeat at most the one message that was
  being sent at that instant (the Bot API cannot say whether it arrived: see notices/outbox.py);
- a scheduled occurrence missed while the bot was down runs once after the restart.

Known window (not closable from here, reported): python-telegram-bot saves a form's state right
after the handler answered. A kill in those few milliseconds leaves the saved state one step
behind the answer; the form then refuses the next step's button as stale and shows the current
step again, so nothing is corrupted. The tests kill only once the state is saved.
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

from devtools.harness import WAIT, BotProcess, running_bot, until
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices import outbox
from notices.services import Services
from school.clock import ManualClock, SystemClock
from school.profile import SchoolProfile
from school.settings import Language, Settings
from storage import groups, people, persisted_state
from storage import outbox as stored_outbox
from storage import tickets as store
from storage.database import Database
from storage.models import (
    GroupPurpose,
    Notification,
    NotificationStatus,
    Person,
    Role,
    ScheduledRun,
    Ticket,
    TicketStatus,
)
from tests.helpers import register

NUMBER = re.compile(r"BX-\d{4}-\d{3}")


@pytest.fixture
async def sandbox() -> AsyncIterator[BotApiSandbox]:
    async with BotApiSandbox() as running:
        yield running


@pytest.fixture
async def houqin(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> AsyncIterator[BotProcess]:
    """The bot as a subprocess on the test's (migrated) database, on each backend."""
    process = BotProcess(sandbox, tmp_path, database.url)
    try:
        yield process
    finally:
        if process.process is not None:
            await process.kill()
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


@pytest.fixture
def db(houqin: BotProcess, database: Database) -> Database:
    """The bot's database, opened by the test too (it reads while the bot writes)."""
    del houqin
    return database


async def invite(db: Database, role: Role, name: str, post: str | None = None) -> str:
    async with db.transaction() as session:
        created = await people.create_invite(
            session, role=role, post_key=post, name=name, now=SystemClock().now()
        )
    return created.code


async def join(
    sandbox: BotApiSandbox, db: Database, role: Role, name: str, post: str | None = None
) -> SandboxUser:
    """A user who opens the invite link the director handed out."""
    user = sandbox.add_user(name, language_code="en")
    mark = sandbox.mark()
    await user.start_bot(await invite(db, role, name, post), settle=False)
    await sandbox.wait_for_message(user.id, since=mark, timeout=WAIT)
    return user


async def bind_repair_group(sandbox: BotApiSandbox, director: SandboxUser) -> SandboxGroup:
    group = sandbox.add_group("维修群", members=[director])
    await sandbox.add_bot_to_group(group, by=director, settle=False)
    mark = sandbox.mark()
    await director.send("/bind repair", chat=group, settle=False)
    await sandbox.wait_for_message(
        group.id, lambda m: "now the" in m.shown_text, since=mark, timeout=WAIT
    )
    return group


async def step(
    sandbox: BotApiSandbox,
    user: SandboxUser,
    act: str,
    expect: str,
    *,
    press: bool = True,
) -> SentMessage:
    """Press a button on the latest prompt (or send text) and wait for the prompt `expect`."""
    mark = sandbox.mark()
    if press:
        await user.press(sandbox.last_message(user.id), act, settle=False)
    else:
        await user.send(act, settle=False)
    return await sandbox.wait_for_message(
        user.id, lambda m: expect in m.shown_text, since=mark, timeout=WAIT
    )


async def form_step(db: Database, user: SandboxUser) -> str | None:
    """The report form's step as saved in the database."""
    async with db.transaction() as session:
        data = (await persisted_state.load_kind(session, "user")).get(str(user.id)) or {}
    form = data.get("tk_form") if isinstance(data, dict) else None
    return form.get("step") if isinstance(form, dict) else None


async def wait_saved_step(db: Database, user: SandboxUser, expected: str) -> None:
    for _ in range(int(WAIT / 0.05)):
        if await form_step(db, user) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the form never saved step {expected!r}")


async def all_tickets(db: Database) -> list[Ticket]:
    async with db.transaction() as session:
        return list((await session.exec(select(Ticket))).all())


def cards(sandbox: BotApiSandbox, group: SandboxGroup, number: str) -> list[SentMessage]:
    """Bot messages in the group that are the ticket's card (not its photos or digests)."""
    return [
        m
        for m in sandbox.messages(group.id, from_bot=True)
        if number in m.shown_text and m.buttons and m.kind == "text"
    ]


# --- a. in the middle of a form -------------------------------------------------------------


async def test_a_form_resumes_after_sigkill_and_files_once(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database
) -> None:
    await houqin.start()
    director = await join(sandbox, db, Role.DIRECTOR, "张主任")
    teacher = await join(sandbox, db, Role.TEACHER, "王芳")
    repair = await bind_repair_group(sandbox, director)

    await step(sandbox, teacher, "/report", "What kind of fault", press=False)
    await step(sandbox, teacher, "水暖", "Where is it")
    await step(sandbox, teacher, "实验楼", "Which floor")
    await wait_saved_step(db, teacher, "floor")
    await houqin.kill()

    await houqin.start()
    await step(sandbox, teacher, "3楼", "Which room")
    await step(sandbox, teacher, "女厕", "What is wrong")
    await step(sandbox, teacher, "水龙头一直滴水，关不紧", "Send photos", press=False)
    await step(sandbox, teacher, "Skip", "How urgent")
    await step(sandbox, teacher, "一般", "Please check")
    mark = sandbox.mark()
    await teacher.press(sandbox.last_message(teacher.id), "Submit", settle=False)
    card = await sandbox.wait_for_message(repair.id, lambda m: "实验楼" in m.shown_text, since=mark)
    # The teacher was told once, before the kill; the restart does not tell them again.
    filed = [m for m in sandbox.messages(teacher.id, from_bot=True) if "is filed" in m.shown_text]
    assert len(filed) == 1
    await houqin.stop()

    [ticket] = await all_tickets(db)
    assert ticket.place.endswith("实验楼3楼女厕") and ticket.description == "水龙头一直滴水，关不紧"
    assert [c.message_id for c in cards(sandbox, repair, ticket.number)] == [card.message_id]
    assert ticket.group_message_id == card.message_id
    confirmations = [
        m for m in sandbox.messages(teacher.id, from_bot=True) if "is filed" in m.shown_text
    ]
    assert len(confirmations) == 1


# --- b. in the middle of a broadcast --------------------------------------------------------

BROADCAST = 150


async def test_b_broadcast_killed_half_way_delivers_every_message(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database
) -> None:
    users = [sandbox.add_user(f"员工{i:03d}") for i in range(BROADCAST)]
    for user in users:
        user.started = True  # each has /start-ed the bot before
    now = SystemClock().now()  # the subprocess runs on the real clock
    async with db.transaction() as session:
        for user in users:
            await stored_outbox.enqueue(
                session,
                key=f"crash:remind:{user.id}",
                chat_id=user.id,
                content=stored_outbox.Content(f"今天的工作日志还没有填写 ({user.id})"),
                now=now,
            )

    def arrived() -> Counter[int]:
        return Counter(m.chat_id for m in sandbox.messages(from_bot=True) if m.chat_id > 0)

    await houqin.start()
    await until(lambda: len(arrived()) >= BROADCAST // 3, "a third of the broadcast")
    await houqin.kill()
    at_kill = len(arrived())
    async with db.transaction() as session:
        in_doubt = (
            await session.exec(
                select(Notification.key).where(Notification.error == stored_outbox.IN_FLIGHT)
            )
        ).all()
    assert 0 < at_kill < BROADCAST, "the kill did not land in the middle of the broadcast"
    assert len(in_doubt) <= 1  # one message at a time: at most one can be in doubt

    await houqin.start()
    await until(lambda: len(arrived()) == BROADCAST, "every notification", timeout=40)
    for _ in range(int(WAIT / 0.1)):  # the last message arrived; its row is marked just after
        async with db.transaction() as session:
            left = await stored_outbox.pending_count(session)
            statuses = Counter((await session.exec(select(Notification.status))).all())
        if left == 0:
            break
        await asyncio.sleep(0.1)
    await houqin.stop()

    per_chat = arrived()
    duplicates = {f"crash:remind:{chat}" for chat, count in per_chat.items() if count > 1}
    assert left == 0 and statuses == {NotificationStatus.SENT: BROADCAST}
    assert set(per_chat) == {user.id for user in users}  # nothing lost
    # Nothing twice, except possibly the one message Telegram took just before the kill and
    # the bot had no time to record: it is sent again rather than risk losing it.
    assert duplicates <= set(in_doubt), (duplicates, in_doubt)
    assert max(per_chat.values()) <= 2


# --- c. between saving a ticket and notifying the group -------------------------------------


async def test_c_killed_while_posting_the_card_posts_it_once_and_edits_it_later(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database
) -> None:
    await houqin.start()
    director = await join(sandbox, db, Role.DIRECTOR, "张主任")
    teacher = await join(sandbox, db, Role.TEACHER, "王芳")
    repair = await bind_repair_group(sandbox, director)
    await step(sandbox, teacher, "/report", "What kind of fault", press=False)
    await step(sandbox, teacher, "电/照明", "Where is it")
    await step(sandbox, teacher, "本部·教学楼", "Which floor")
    await step(sandbox, teacher, "Not sure / whole building", "What is wrong")
    await step(sandbox, teacher, "走廊灯不亮", "Send photos", press=False)
    await step(sandbox, teacher, "Skip", "How urgent")
    await step(sandbox, teacher, "一般", "Please check")

    # The next sendMessage to the repair group is the card: the sandbox holds it, and the bot
    # is killed while it waits, after the ticket was committed and before anything reached the
    # group. (The teacher's confirmation is sent first, right after the commit.)
    faults = sandbox.stats["faults"]
    sandbox.fail_next("sendMessage", status=0, delay=30, chat_id=repair.id)
    await teacher.press(sandbox.last_message(teacher.id), "Submit", settle=False)
    await until(lambda: sandbox.stats["faults"] > faults, "the bot to start sending the card")
    await houqin.kill()
    [ticket] = await all_tickets(db)
    assert ticket.group_message_id is None
    assert not cards(sandbox, repair, ticket.number)

    mark = sandbox.mark()
    await houqin.start()
    card = await sandbox.wait_for_message(
        repair.id, lambda m: ticket.number in m.shown_text, since=mark, timeout=WAIT
    )
    # The teacher was told once, before the kill; the restart does not tell them again.
    filed = [m for m in sandbox.messages(teacher.id, from_bot=True) if "is filed" in m.shown_text]
    assert len(filed) == 1

    # The form's end is saved right after the answer, while the card goes out in the
    # background, so the kill may come before or after it. If it came before, the form is
    # still at its summary, and submitting it again finds the ticket it filed.
    if await form_step(db, teacher) == "summary":
        await step(sandbox, teacher, "/report", "Please check", press=False)
        mark = sandbox.mark()
        await teacher.press(sandbox.last_message(teacher.id), "Submit", settle=False)
        await sandbox.wait_for_message(
            teacher.id, lambda m: "Submitted" in m.shown_text, since=mark
        )
    assert len(await all_tickets(db)) == 1

    # A later change edits the same card in place.
    mark = sandbox.mark()
    await director.press(card, "Take", settle=False)
    edited = await sandbox.wait_for_message(
        repair.id, lambda m: "Start repair" in str(m.buttons), since=mark, timeout=WAIT
    )
    assert edited.message_id == card.message_id
    await houqin.stop()

    [ticket] = await all_tickets(db)
    assert ticket.status == TicketStatus.ACCEPTED
    assert ticket.group_message_id == card.message_id
    assert [c.message_id for c in cards(sandbox, repair, ticket.number)] == [card.message_id]
    assert await form_step(db, teacher) is None


@pytest.mark.slow
async def test_killed_while_telling_a_stranger_the_decision_tells_them_after_the_restart(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database
) -> None:
    """The director's approval is committed with the stranger's welcome queued; the bot is
    killed while that welcome is on its way (Telegram 0.3-0.5 s away), and the next start
    delivers it, once. The director was answered before the kill."""
    sandbox.latency = (0.3, 0.5)
    await houqin.start()
    director = await join(sandbox, db, Role.DIRECTOR, "张主任")
    stranger = sandbox.add_user("赵老师", language_code="en")
    mark = sandbox.mark()
    await stranger.start_bot(settle=False)
    hello = await sandbox.wait_for_message(stranger.id, since=mark, timeout=WAIT)
    mark = sandbox.mark()
    await stranger.press(hello, "Ask to join as a teacher", settle=False)
    request = await sandbox.wait_for_message(
        director.id, lambda m: "赵老师" in m.shown_text, since=mark, timeout=WAIT
    )

    faults = sandbox.stats["faults"]
    sandbox.fail_next("sendMessage", status=0, delay=30, chat_id=stranger.id)
    mark = sandbox.mark()
    await director.press(request, "Approve", settle=False)
    await sandbox.wait_for_message(
        director.id, lambda m: "approved" in m.shown_text, since=mark, timeout=WAIT
    )
    await until(lambda: sandbox.stats["faults"] > faults, "the bot to start sending the welcome")
    await houqin.kill()

    def welcomes() -> list[SentMessage]:
        return [
            m for m in sandbox.messages(stranger.id, from_bot=True) if "approved" in m.shown_text
        ]

    assert welcomes() == []
    async with db.reading() as session:
        person = await people.get_person_by_telegram_id(session, stranger.id)
    assert person is not None and person.role == Role.TEACHER  # committed before the kill

    await houqin.start()
    await until(lambda: len(welcomes()) == 1, "the welcome after the restart", timeout=WAIT)
    await asyncio.sleep(1.0)  # a second copy would come now
    await houqin.stop()
    [welcome] = welcomes()
    assert welcome.reply_keyboard is not None  # the teacher's menu comes with it


# --- d. scheduled runs missed while the bot was down ----------------------------------------


async def test_d_missed_occurrence_runs_once_across_restarts(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database, profile: SchoolProfile
) -> None:
    """tickets.overdue fires every 5 minutes with a 10-minute catch-up window, so with the
    real clock an occurrence the stopped bot missed is always due at start-up."""
    director = sandbox.add_user("张主任", language_code="en")
    director.started = True
    repair = sandbox.add_group("维修群", members=[director])
    repair.bot_status = "member"  # the bot was added (and the group bound) before
    clock = SystemClock()
    now = clock.now()
    async with db.transaction() as session:
        boss = Person(telegram_id=director.id, name="张主任", role=Role.DIRECTOR, created_at=now)
        session.add(boss)
        await session.flush()
        await groups.bind_group(
            session,
            chat_id=repair.id,
            title=repair.title,
            purpose=GroupPurpose.REPAIR,
            director=boss,
            now=now,
        )
        report = store.Report("plumbing", "实验楼3楼女厕", "水龙头一直滴水", "normal")
        ticket = await store.create_ticket(
            session, report, store.Reporter.of(boss), profile=profile, now=now - timedelta(days=3)
        )
        number = ticket.number

    def digests() -> list[SentMessage]:
        return [m for m in sandbox.messages(repair.id, from_bot=True) if number in m.shown_text]

    await houqin.start()
    await until(lambda: len(digests()) == 1, "the overdue digest")
    await _until_finished(db)
    await houqin.kill()
    first = await _runs(db)

    await houqin.start()
    await _until_finished(db)
    await asyncio.sleep(1.0)  # the start-up catch-up has run by now (it runs at once)
    await houqin.kill()
    await houqin.start()
    await asyncio.sleep(1.0)
    await houqin.stop()

    runs = await _runs(db)
    assert len(digests()) == 1  # reported once, across three starts
    missed = first[0]
    assert missed.claimed_at > missed.occurrence  # it ran late: it was missed while down
    assert [r for r in runs if r.occurrence == missed.occurrence] == [missed]
    assert all(r.finished_at is not None for r in runs)
    # A later occurrence (the 5 minutes may have turned) runs, but does not report it again.
    assert len(runs) == len({r.occurrence for r in runs}) <= 2


async def _runs(db: Database) -> list[ScheduledRun]:
    async with db.transaction() as session:
        query = (
            select(ScheduledRun)
            .where(ScheduledRun.job == "tickets.overdue")
            .order_by(col(ScheduledRun.occurrence))
        )
        return list((await session.exec(query)).all())


async def _until_finished(db: Database) -> None:
    """The runs finished and their digest was recorded as delivered (a kill before that record
    would rightly send it again: that is test b's subject, not this one's)."""
    for _ in range(int(WAIT / 0.05)):
        runs = await _runs(db)
        async with db.reading() as session:
            pending = await stored_outbox.pending_count(session)
        if runs and all(r.finished_at is not None for r in runs) and pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("tickets.overdue never finished")


# --- in process: the pieces behind the guarantees -------------------------------------------


@pytest.fixture
def en_services(database: Database, clock: ManualClock, profile: SchoolProfile) -> Services:
    """English group texts, so the assertions hold whatever the catalogs say."""
    settings = Settings(_env_file=None, database_url=database.url, language=Language.EN)
    return Services(settings=settings, profile=profile, database=database, clock=clock)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_card_delivered_by_a_retry_is_linked_and_edited_in_place(
    en_services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    services = en_services
    async with running_bot(services, sandbox) as application:
        director = await register(sandbox, services, "张主任", Role.DIRECTOR, language_code="en")
        teacher = await register(sandbox, services, "王芳", Role.TEACHER, language_code="en")
        repair = sandbox.add_group("维修群", members=[director])
        await sandbox.add_bot_to_group(repair, by=director)
        await director.send("/bind repair", chat=repair)
        sandbox.fail_next("sendMessage", status=500, chat_id=repair.id)  # the card: refused once
        await teacher.send("/report 实验楼3楼女厕水龙头一直滴水")
        [ticket] = await _tickets(services)
        assert ticket.group_message_id is None and not cards(sandbox, repair, ticket.number)

        clock.advance(timedelta(minutes=1))
        assert (await outbox.deliver(application.bot, services)).sent == 1
        [card] = cards(sandbox, repair, ticket.number)
        [ticket] = await _tickets(services)
        assert ticket.group_message_id == card.message_id

        await director.press(card, "Take")
        assert card.edits and "Start repair" in str(card.buttons)
        assert len(cards(sandbox, repair, ticket.number)) == 1
    assert sandbox.rejected == []


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_refresh_card_links_a_card_sent_before_the_hook(
    en_services: Services, sandbox: BotApiSandbox
) -> None:
    services = en_services
    """A card the outbox delivered without recording it on the ticket (older versions)."""
    async with running_bot(services, sandbox) as application:
        director = await register(sandbox, services, "张主任", Role.DIRECTOR, language_code="en")
        teacher = await register(sandbox, services, "王芳", Role.TEACHER, language_code="en")
        repair = sandbox.add_group("维修群", members=[director])
        await sandbox.add_bot_to_group(repair, by=director)
        await director.send("/bind repair", chat=repair)
        await teacher.send("/report 实验楼3楼女厕水龙头一直滴水")
        [ticket] = await _tickets(services)
        assert ticket.id is not None and ticket.group_message_id is not None
        async with services.database.transaction() as session:
            await store.set_card(session, ticket.id, chat_id=repair.id, message_id=None)

        await director.press(cards(sandbox, repair, ticket.number)[0], "Take")
        [ticket] = await _tickets(services)
        [card] = cards(sandbox, repair, ticket.number)
        assert ticket.group_message_id == card.message_id and card.edits
        del application


async def _tickets(services: Services) -> list[Ticket]:
    async with services.database.transaction() as session:
        return list((await session.exec(select(Ticket))).all())


async def test_in_flight_rows_are_sent_again_after_a_restart(
    services: Services, clock: ManualClock
) -> None:
    async with services.database.transaction() as session:
        await outbox.notify(session, services, key="n:1", chat_id=1001, text="一")
        await outbox.notify(session, services, key="n:2", chat_id=1002, text="二")
    async with services.database.transaction() as session:
        [first, second] = await stored_outbox.due(session, now=clock.now())
        assert first.id is not None and second.id is not None
        assert await stored_outbox.mark_in_flight(session, first.id, now=clock.now())
    async with services.database.transaction() as session:
        # Claimed: no other pass takes it, and it is not due while the request runs.
        assert not await stored_outbox.mark_in_flight(session, first.id, now=clock.now())
        assert [n.key for n in await stored_outbox.due(session, now=clock.now())] == ["n:2"]
    # The process died during the request. The next start finds it and sends it again.
    async with services.database.transaction() as session:
        assert await stored_outbox.recover_in_flight(session, now=clock.now()) == ["n:1"]
    async with services.database.transaction() as session:
        due = await stored_outbox.due(session, now=clock.now())
        assert [n.key for n in due] == ["n:1", "n:2"]
        assert due[0].error == stored_outbox.IN_DOUBT
        assert await stored_outbox.recover_in_flight(session, now=clock.now()) == []
