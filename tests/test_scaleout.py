"""Several workers on one PostgreSQL database (HOUQIN_SCALE_OUT), behind one webhook address.

The shipped command runs as two processes in webhook mode; the sandbox spreads Telegram's
deliveries over them in turn, as a reverse proxy would, and every Bot API call takes 0.3–0.5 s.
What a user would notice is checked: a burst from one person, split between the workers, is
handled in order and once (a form's lines all kept, in the order typed); an update Telegram
sends again is taken once; a worker killed with updates waiting leaves them to the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from devtools.harness import WAIT, Workers, until
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from school.clock import SystemClock
from storage import people
from storage.database import Database
from storage.models import Person, Role, WorkLog
from storage.update_inbox import InboxUpdate

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database", ["postgresql"], indirect=True)]

LINES = [f"第{n}项：检查{n}号楼道灯" for n in range(1, 13)]
ONE_BY_ONE = [f"第{n}项：拖{n}楼走廊" for n in range(13, 17)]


@pytest.fixture
async def sandbox() -> AsyncIterator[BotApiSandbox]:
    async with BotApiSandbox(latency=(0.3, 0.5)) as running:
        yield running


@pytest.fixture
async def workers(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> AsyncIterator[Workers]:
    running = Workers(sandbox, tmp_path, database.url, 2)
    try:
        yield running
    finally:
        for process in running.processes:
            if process.process is not None:
                await process.kill()
    # A worker killed after it answered but before it recorded the update handled leaves it
    # to be handled again (at least once): the same edit of a form then comes twice, and
    # Telegram refuses the second as "not modified", harmlessly.
    rejected = [r for r in sandbox.rejected if "message is not modified" not in r[2]]
    assert rejected == [], f"the bot sent requests the Bot API rejects: {rejected}"


async def staff(sandbox: BotApiSandbox, database: Database, name: str) -> SandboxUser:
    """A cleaner who opens the invite link the director handed out."""
    async with database.transaction() as session:
        invite = await people.create_invite(
            session, role=Role.STAFF, post_key="cleaner", name=name, now=SystemClock().now()
        )
    user = sandbox.add_user(name, language_code="en")
    mark = sandbox.mark()
    await user.start_bot(invite.code, settle=False)
    await sandbox.wait_for_message(user.id, since=mark, timeout=WAIT)
    return user


async def filed_items(database: Database, user: SandboxUser) -> list[object]:
    async with database.reading() as session:
        person = (await session.exec(select(Person).where(Person.telegram_id == user.id))).one()
        logs = (await session.exec(select(WorkLog).where(WorkLog.person_id == person.id))).all()
    return [item for log in logs for item in log.items]


async def inbox(database: Database) -> list[InboxUpdate]:
    async with database.reading() as session:
        return list(
            (await session.exec(select(InboxUpdate).order_by(col(InboxUpdate.update_id)))).all()
        )


async def all_handled(database: Database) -> None:
    """Wait until every update taken is handled, and a moment more for its worker to let go
    of the person."""
    for _ in range(int(WAIT / 0.1)):
        if all(row.handled_at is not None for row in await inbox(database)):
            await asyncio.sleep(0.3)
            return
        await asyncio.sleep(0.1)
    raise AssertionError("updates still waiting in the inbox")


async def a_cleaner_in_the_log_form(
    sandbox: BotApiSandbox, workers: Workers, database: Database
) -> tuple[SandboxUser, SentMessage]:
    """The workers started, and a cleaner who joined and opened the work-log form."""
    await workers.start()
    cleaner = await staff(sandbox, database, "陈阿姨")
    mark = sandbox.mark()
    await cleaner.send("/log", settle=False)
    form = await sandbox.wait_for_message(
        cleaner.id, lambda m: bool(m.buttons), since=mark, timeout=WAIT
    )
    return cleaner, form


async def save(sandbox: BotApiSandbox, cleaner: SandboxUser, form: SentMessage) -> None:
    mark = sandbox.mark()
    await cleaner.press(form, "Save", settle=False)
    await sandbox.wait_for_message(
        cleaner.id, lambda m: "saved" in m.shown_text.lower(), since=mark, timeout=WAIT
    )


async def test_a_burst_split_between_two_workers_is_handled_in_order_and_once(
    sandbox: BotApiSandbox, workers: Workers, database: Database
) -> None:
    cleaner, form = await a_cleaner_in_the_log_form(sandbox, workers, database)

    # Twelve lines in a burst: the workers take them in turn (odd ones to one, even ones to
    # the other), so each worker's form state is behind the other's at every line.
    for line in LINES:
        await cleaner.send(line, settle=False)
    await until(
        lambda: all(line in form.shown_text for line in LINES), "every line in the form", WAIT
    )
    # Then lines one at a time: each is handled by the worker that took it, which must read
    # the form as the other worker left it.
    for line in ONE_BY_ONE:
        await all_handled(database)  # the worker that had the person has let go
        await cleaner.send(line, settle=False)
        await until(lambda line=line: line in form.shown_text, "the line in the form", WAIT)  # type: ignore[misc]
    handlers = {address for _update, address in sandbox.webhook_deliveries[-len(ONE_BY_ONE) :]}
    assert len(handlers) == 2
    await save(sandbox, cleaner, form)
    await workers.stop()

    items = await filed_items(database, cleaner)
    typed = LINES + ONE_BY_ONE
    assert [item for item in items if item in typed] == typed  # all of them, once, in order
    positions = [form.shown_text.index(line) for line in typed]
    assert positions == sorted(positions)
    taken = await inbox(database)
    assert len({row.update_id for row in taken}) == len(taken)
    assert all(row.handled_at is not None for row in taken)
    delivered = sandbox.stats["webhook_delivered"]
    assert delivered == len(taken)  # each update taken once, by one worker or the other


async def test_an_update_sent_again_is_taken_once_and_a_dead_workers_update_is_handled(
    sandbox: BotApiSandbox, workers: Workers, database: Database
) -> None:
    cleaner, form = await a_cleaner_in_the_log_form(sandbox, workers, database)

    # Telegram sends an update again when it did not see the answer: the same update_id
    # reaches the other worker, which takes it once.
    await cleaner.send(LINES[0], settle=False)
    await until(lambda: LINES[0] in form.shown_text, "the first line in the form", WAIT)
    sandbox.redeliver(sandbox.emitted_updates[-1])
    await sandbox.settle(timeout=WAIT)

    # A worker is killed right after it took an update (answered Telegram), before it could
    # handle it: the other worker's sweep finds the update waiting and handles it.
    delivered = len(sandbox.webhook_deliveries)
    await cleaner.send(LINES[1], settle=False)
    await until(lambda: len(sandbox.webhook_deliveries) > delivered, "the update taken", WAIT)
    _update_id, address = sandbox.webhook_deliveries[-1]
    taker = workers.processes[workers.addresses.index(address)]
    await taker.kill()
    workers.spread([p for p in workers.processes if p is not taker])
    await until(lambda: LINES[1] in form.shown_text, "the line of the killed worker", WAIT)
    await cleaner.send(LINES[2], settle=False)
    await until(lambda: LINES[2] in form.shown_text, "a line after the kill", WAIT)

    await save(sandbox, cleaner, form)
    await workers.stop()
    items = await filed_items(database, cleaner)
    assert [item for item in items if item in LINES] == LINES[:3]
    assert all(row.handled_at is not None for row in await inbox(database))
