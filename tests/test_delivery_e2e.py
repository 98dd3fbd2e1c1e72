"""End to end: what the bot sends gets there, whatever Telegram answers on the way.

A repair card's edit that Telegram refuses is retried until the card shows the job as it is
(the latest state, never an older one), and a repair group past Telegram's 20 messages a
minute (or answered 429) holds up no one else: other people's answers and notices go on
while the group's cards wait their turn, and each card arrives once.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from actions import tickets as act
from devtools.harness import running_bot, until
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers import ticket_presses
from handlers.context import HouqinApp
from notices import outbox
from notices import tickets as told
from notices.services import Services
from school.clock import ManualClock
from school.profile import SchoolProfile
from school.settings import Language, Settings
from storage import tickets
from storage.database import Database
from storage.models import Role, Ticket
from tests.helpers import register

WINDOW = 6.0  # the sandbox's "minute" for a group's 20 messages: the flood takes two of them
CARDS = 40
NUMBER = re.compile(r"BX-\d{4}-\d{3}")


@dataclass
class Cast:
    app: HouqinApp
    director: SandboxUser
    worker: SandboxUser
    teacher: SandboxUser
    repair: SandboxGroup
    teachers: SandboxGroup


@pytest.fixture
def services(database: Database, clock: ManualClock, profile: SchoolProfile) -> Services:
    """English throughout, so the assertions hold before and after the catalogs are merged."""
    settings = Settings(_env_file=None, database_url=database.url, language=Language.EN)
    return Services(settings=settings, profile=profile, database=database, clock=clock)


async def _cast(sandbox: BotApiSandbox, services: Services, app: HouqinApp) -> Cast:
    ticket_presses.forget_member_cache()
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    worker = await register(sandbox, services, "张师傅", Role.STAFF, "repair")
    teacher = await register(sandbox, services, "王芳", Role.TEACHER)
    repair = sandbox.add_group("维修群", members=[director, worker])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    teachers = sandbox.add_group("教师群", members=[director, teacher])
    await sandbox.add_bot_to_group(teachers, by=director)
    await director.send("/bind teachers", chat=teachers)
    return Cast(app, director, worker, teacher, repair, teachers)


@pytest.fixture
async def cast(services: Services, sandbox: BotApiSandbox) -> AsyncIterator[Cast]:
    """The bot against a sandbox without flood limits, and the school's people and groups."""
    async with running_bot(services, sandbox) as app:
        yield await _cast(sandbox, services, app)
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


@pytest.fixture
async def limited(services: Services) -> AsyncIterator[tuple[BotApiSandbox, Cast]]:
    """The same against a sandbox that counts like Telegram (a group's "minute" shortened)."""
    async with BotApiSandbox(enforce_limits=True, group_limit=(20, WINDOW)) as sandbox:
        async with running_bot(services, sandbox) as app:
            yield sandbox, await _cast(sandbox, services, app)
        assert sandbox.rejected == [], sandbox.rejected


async def _report(services: Services, sandbox: BotApiSandbox, cast: Cast) -> Ticket:
    await cast.teacher.send("/report 实验楼3楼女厕水龙头一直滴水", chat=cast.teachers)
    match = NUMBER.search(sandbox.last_message(cast.teachers.id).shown_text)
    assert match is not None
    async with services.database.reading() as session:
        ticket = await tickets.get_by_number(session, match.group(0))
    assert ticket is not None
    return ticket


async def _file(services: Services, app: HouqinApp, reporter: SandboxUser, n: int) -> Ticket:
    """A report filed as the report form files it (the card queued with it), then published."""
    report = act.Report(
        category="plumbing",
        place=f"实验楼{n}室",
        description=f"水龙头滴水 {n}",
        urgency="normal",
    )
    ticket = await act.file_report(
        services, report, tickets.Reporter(telegram_id=reporter.id, name=reporter.name), token=None
    )
    await told.publish_ticket(app.bot, services, ticket)
    return ticket


def _card(sandbox: BotApiSandbox, group: SandboxGroup, number: str) -> SentMessage:
    [card] = [m for m in sandbox.messages(group.id, from_bot=True) if number in m.shown_text]
    return card


def _cards(sandbox: BotApiSandbox, group: SandboxGroup) -> list[SentMessage]:
    return [m for m in sandbox.messages(group.id, from_bot=True) if "🔧" in m.shown_text]


def _says(text: str) -> Callable[[SentMessage], bool]:
    return lambda message: message.shown_text == text


def _first_event(
    sandbox: BotApiSandbox, matches: Callable[[SentMessage], bool], kind: str = "message"
) -> int:
    """Where in the sandbox's log the first bot message (or edit) matching arrived."""
    for event in sandbox.events:
        message = event.message
        if event.kind == kind and message is not None and message.from_bot and matches(message):
            return event.seq
    return len(sandbox.events)


def _edits_of(sandbox: BotApiSandbox, card: SentMessage) -> list[tuple[int, str]]:
    """(status, text) of every editMessageText the bot sent for this card."""
    return [
        (status, str(params.get("text")))
        for method, params, status in sandbox.requests
        if method == "editMessageText" and int(params.get("message_id", 0)) == card.message_id
    ]


# --- item 2: a card edit Telegram refuses ---------------------------------------------------------


async def test_a_card_edit_telegram_refuses_once_is_retried_until_the_card_shows_it(
    sandbox: BotApiSandbox, services: Services, clock: ManualClock, cast: Cast
) -> None:
    ticket = await _report(services, sandbox, cast)
    card = _card(sandbox, cast.repair, ticket.number)
    assert card.buttons == [["Take", "Assign", "Return"], ["📍 Place history"]]
    sandbox.fail_next("editMessageText", status=500, chat_id=cast.repair.id)
    answer = await cast.worker.press(card, "Take")
    assert answer is not None and "You took" in str(answer.text)
    assert sandbox.stats["faults"] == 1
    assert "Waiting to be taken" in card.shown_text  # Telegram refused the edit

    clock.advance(timedelta(minutes=1))
    await outbox.deliver(cast.app.bot, services)  # the outbox job, every 5 seconds
    assert "Taken" in card.shown_text and "张师傅" in card.shown_text
    assert "Waiting to be taken" not in card.shown_text
    assert "Take" not in [label for row in card.buttons for label in row]
    assert [status for status, _text in _edits_of(sandbox, card)] == [500, 200]
    clock.advance(timedelta(hours=1))
    assert (await outbox.deliver(cast.app.bot, services)).sent == 0  # shown: nothing left


async def test_the_latest_card_never_gives_way_to_an_older_edit(
    sandbox: BotApiSandbox, services: Services, clock: ManualClock, cast: Cast
) -> None:
    """Two changes whose edits Telegram refuses: the retry shows the second, and the first is
    never sent after it."""
    ticket = await _report(services, sandbox, cast)
    card = _card(sandbox, cast.repair, ticket.number)
    sandbox.fail_next("editMessageText", status=502, chat_id=cast.repair.id, count=2)
    await cast.director.press(card, "Assign")
    await cast.director.press(sandbox.last_message(cast.director.id), "张师傅")
    assert "Waiting to be taken" in card.shown_text
    private = sandbox.last_message(cast.worker.id)  # the job, with its buttons, to 张师傅
    assert ticket.number in private.shown_text
    await cast.worker.press(private, "Start repair")
    assert "Waiting to be taken" in card.shown_text and sandbox.stats["faults"] == 2

    clock.advance(timedelta(minutes=1))
    await outbox.deliver(cast.app.bot, services)
    assert "Being repaired" in card.shown_text and "张师傅" in card.shown_text
    edits = _edits_of(sandbox, card)
    assert [status for status, _text in edits] == [502, 502, 200]
    assert "Being repaired" in edits[-1][1]
    clock.advance(timedelta(hours=1))
    await outbox.deliver(cast.app.bot, services)
    assert len(_edits_of(sandbox, card)) == 3  # the older state is never sent


# --- item 3: a slow group holds up no one else ----------------------------------------------------


async def test_a_group_past_its_limit_holds_up_no_one_else(
    limited: tuple[BotApiSandbox, Cast], services: Services
) -> None:
    """40 new jobs at once for a repair group that Telegram lets have 20 messages a "minute":
    while the cards wait their turn, 张师傅 takes the first job (the card shows it and the
    reporter hears of it), the director's /whoami is answered and the teachers' group gets
    its notices, all before the repair group's 21st card; then every card arrives, once."""
    sandbox, cast = limited
    reporters = [sandbox.add_user(f"老师{i:02d}") for i in range(CARDS)]
    for reporter in reporters:
        reporter.started = True
    filed = [await _file(services, cast.app, reporter, n) for n, reporter in enumerate(reporters)]
    await until(lambda: len(_cards(sandbox, cast.repair)) >= 10, "the first cards")
    first = _card(sandbox, cast.repair, filed[0].number)

    mark = sandbox.mark()
    await cast.worker.press(first, "Take", settle=False)
    await cast.director.send("/whoami", settle=False)
    for words in ("停水通知", "停电通知"):  # another group's notices, a moment apart
        async with services.database.transaction() as session:
            await outbox.notify(
                session, services, key=f"teachers:{words}", chat_id=cast.teachers.id, text=words
            )
        outbox.deliver_soon(cast.app.bot, services)
        await sandbox.wait_for_message(
            cast.teachers.id, _says(words), timeout=3 * WINDOW, since=mark
        )
    answer = await sandbox.wait_for_message(
        cast.director.id, lambda m: "You are" in m.shown_text, timeout=3 * WINDOW, since=mark
    )
    notice = await sandbox.wait_for_message(
        reporters[0].id,
        lambda m: "was taken by 张师傅" in m.shown_text,
        timeout=3 * WINDOW,
        since=mark,
    )
    taken = await sandbox.wait_for_message(
        cast.repair.id,
        lambda m: m.message_id == first.message_id and "Taken" in m.shown_text,
        timeout=3 * WINDOW,
        since=mark,
    )
    group_notice = await sandbox.wait_for_message(cast.teachers.id, _says("停电通知"), since=mark)
    cards = _cards(sandbox, cast.repair)
    st21 = _first_event(sandbox, lambda m: len(cards) > 20 and m is cards[20])
    assert _first_event(sandbox, lambda m: m is group_notice) < st21
    assert _first_event(sandbox, lambda m: m is answer) < st21
    assert _first_event(sandbox, lambda m: m is notice) < st21
    assert _first_event(sandbox, lambda m: m is taken, kind="edit") < st21

    await sandbox.settle(timeout=4 * WINDOW + 10)
    per_ticket = Counter(
        number
        for card in _cards(sandbox, cast.repair)
        for number in NUMBER.findall(card.shown_text)
    )
    assert per_ticket == Counter(ticket.number for ticket in filed)  # every card, once
    assert sandbox.stats["429 group"] == 0  # paced, not pushed back


async def test_a_429_for_a_group_holds_back_that_group_only(
    sandbox: BotApiSandbox, services: Services, cast: Cast
) -> None:
    """Telegram answers 429 (retry after 4 s) to a card: the group waits, nobody else does."""
    reporters = [sandbox.add_user(f"老师{i}") for i in range(3)]
    for reporter in reporters:
        reporter.started = True
    sandbox.fail_next("sendMessage", status=429, retry_after=4, chat_id=cast.repair.id)
    filed = [await _file(services, cast.app, reporter, n) for n, reporter in enumerate(reporters)]
    async with services.database.transaction() as session:
        await outbox.notify(
            session, services, key="notice:teacher", chat_id=cast.teacher.id, text="维修完成"
        )
    outbox.deliver_soon(cast.app.bot, services)
    await until(lambda: sandbox.stats["faults"] == 1, "the 429")
    mark = sandbox.mark()
    await cast.director.send("/whoami", settle=False)
    answer = await sandbox.wait_for_message(
        cast.director.id, lambda m: "You are" in m.shown_text, since=mark
    )
    notice = await sandbox.wait_for_message(
        cast.teacher.id, lambda m: m.shown_text == "维修完成", since=0
    )
    card = _first_event(sandbox, lambda m: m.chat_id == cast.repair.id and "🔧" in m.shown_text)
    assert _first_event(sandbox, lambda m: m is answer) < card
    assert _first_event(sandbox, lambda m: m is notice) < card

    await sandbox.settle(timeout=15)
    per_ticket = Counter(
        number
        for card in _cards(sandbox, cast.repair)
        for number in NUMBER.findall(card.shown_text)
    )
    assert per_ticket == Counter(ticket.number for ticket in filed)


async def test_answers_during_a_broadcast_share_telegrams_30_per_second_without_a_429(
    services: Services,
) -> None:
    """While the queue sends at Telegram's 30 messages a second, people using the bot are
    answered at once, and the queue leaves room for those answers: Telegram refuses nothing."""
    async with (
        BotApiSandbox(enforce_limits=True) as sandbox,
        running_bot(services, sandbox) as app,
    ):
        readers = [sandbox.add_user(f"员工{i:02d}") for i in range(90)]
        acting = [await register(sandbox, services, f"老师{i}", Role.TEACHER) for i in range(10)]
        async with services.database.transaction() as session:
            for reader in readers:
                reader.started = True
                await outbox.notify(
                    session, services, key=f"t:{reader.id}", chat_id=reader.id, text="通知"
                )
        mark = sandbox.mark()
        delivery = outbox.deliver(app.bot, services)

        async def use_the_bot() -> None:
            for _round in range(3):
                for person in acting:
                    await person.send("/help", settle=False)
                await asyncio.sleep(1.0)

        report, _ = await asyncio.gather(delivery, use_the_bot())
        await sandbox.settle()
    assert report.sent == len(readers)
    assert sandbox.stats["429"] == 0
    answered = Counter(m.chat_id for m in sandbox.bot_messages_since(mark))
    assert all(answered[person.id] == 3 for person in acting), answered
