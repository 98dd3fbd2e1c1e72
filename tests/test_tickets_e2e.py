"""End to end: repair tickets through the sandbox, from the report to the rating."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from handlers import ticket_presses as ticket_handlers
from handlers.context import HouqinApp
from notices import outbox
from notices.services import Services
from scheduler.jobs import run_due
from school.clock import ManualClock
from school.profile import SchoolProfile
from school.settings import Language, Settings
from storage import persisted_state, tickets
from storage.database import Database
from storage.models import Role, Ticket, TicketStatus
from tests.helpers import private_text, register


@dataclass
class Cast:
    app: HouqinApp
    director: SandboxUser
    plumber: SandboxUser
    fixer: SandboxUser
    teacher: SandboxUser
    teacher2: SandboxUser
    repair: SandboxGroup
    teachers: SandboxGroup


async def _cast(sandbox: BotApiSandbox, services: Services, app: HouqinApp) -> Cast:
    ticket_handlers.forget_member_cache()
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    fixer = await register(sandbox, services, "赵师傅", Role.STAFF, "repair")
    teacher = await register(sandbox, services, "王芳", Role.TEACHER)
    teacher2 = await register(sandbox, services, "刘洋", Role.TEACHER)
    repair = sandbox.add_group("维修群", members=[director, plumber, fixer])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    teachers = sandbox.add_group("教师群", members=[director, teacher, teacher2])
    await sandbox.add_bot_to_group(teachers, by=director)
    await director.send("/bind teachers", chat=teachers)
    return Cast(app, director, plumber, fixer, teacher, teacher2, repair, teachers)


async def _ticket(services: Services, number: str) -> Ticket:
    async with services.database.transaction() as session:
        ticket = await tickets.get_by_number(session, number)
    assert ticket is not None, number
    return ticket


def _card(sandbox: BotApiSandbox, ticket: Ticket) -> SentMessage:
    assert ticket.group_chat_id is not None and ticket.group_message_id is not None
    for message in sandbox.messages(ticket.group_chat_id, from_bot=True):
        if message.message_id == ticket.group_message_id:
            return message
    raise LookupError(ticket.number)


def _last(sandbox: BotApiSandbox, user: SandboxUser) -> SentMessage:
    return sandbox.last_message(user.private_chat_id)


async def _quick_report(
    services: Services, sandbox: BotApiSandbox, cast: Cast, line: str
) -> Ticket:
    await cast.teacher.send(f"/report {line}", chat=cast.teachers)
    reply = sandbox.last_message(cast.teachers.id)
    match = re.search(r"BX-\d{4}-\d{3}", reply.shown_text)
    assert match is not None, reply.shown_text
    return await _ticket(services, match.group(0))


@pytest.fixture
async def bot(services: Services, sandbox: BotApiSandbox) -> AsyncIterator[BotApiSandbox]:
    """The bot fixture, keeping the application for the scheduler."""
    async with running_bot(services, sandbox) as application:
        _apps[id(sandbox)] = application
        yield sandbox
    _apps.pop(id(sandbox), None)
    assert sandbox.rejected == [], f"the bot sent requests the Bot API rejects: {sandbox.rejected}"


_apps: dict[int, HouqinApp] = {}


@pytest.fixture
def services(database: Database, clock: ManualClock, profile: SchoolProfile) -> Services:
    """English throughout, so the assertions hold before and after the catalogs are merged."""
    settings = Settings(_env_file=None, database_url=database.url, language=Language.EN)
    return Services(settings=settings, profile=profile, database=database, clock=clock)


@pytest.fixture
async def cast(bot: BotApiSandbox, services: Services) -> Cast:
    return await _cast(bot, services, _apps[id(bot)])


async def test_full_form_with_photos(bot: BotApiSandbox, services: Services, cast: Cast) -> None:
    teacher = cast.teacher
    await teacher.send("/report")
    await teacher.press(_last(bot, teacher), "水暖")
    await teacher.press(_last(bot, teacher), "实验楼")
    await teacher.press(_last(bot, teacher), "3楼")
    await teacher.press(_last(bot, teacher), "女厕")
    assert "What is wrong" in private_text(bot, teacher)
    await teacher.send_sticker()
    assert "text message" in private_text(bot, teacher)
    await teacher.send("水龙头一直滴水，关不紧")
    await teacher.send("这是一张照片")  # text where a photo is expected
    assert "need a photo" in private_text(bot, teacher)
    await teacher.send_document(caption="图")  # a file with a caption is not a photo
    assert "need a photo" in private_text(bot, teacher)
    await teacher.send_photo()
    await teacher.send_photo(caption="另一个角度")
    assert "2 photo(s)" in private_text(bot, teacher)
    await teacher.press(_last(bot, teacher), "Done")
    await teacher.press(_last(bot, teacher), "一般")
    summary = _last(bot, teacher)
    assert "实验楼3楼女厕" in summary.shown_text and "水暖" in summary.shown_text
    assert "Photos: 2" in summary.shown_text
    await teacher.press(summary, "Submit")
    ticket = await _ticket(services, "BX-2611-001")
    assert ticket.status == TicketStatus.OPEN and ticket.place.endswith("实验楼3楼女厕")
    confirmation = private_text(bot, teacher)
    assert "BX-2611-001" in confirmation and "11-24 09:00" in confirmation
    card = _card(bot, ticket)
    assert card.buttons == [["Take", "Assign", "Return"], ["📍 Place history"]]
    assert "王芳" in card.shown_text and "Waiting to be taken" in card.shown_text
    album = [m for m in bot.messages(cast.repair.id, from_bot=True) if m.media_group_id]
    assert len(album) == 2
    async with services.database.transaction() as session:
        assert len((await tickets.media_of(session, ticket.id or 0)).photos) == 2
    # The summary's buttons are gone: pressing submit again is impossible; /report starts anew.
    await teacher.send("/report")
    assert "category" in private_text(bot, teacher)
    await teacher.send("/cancel")
    assert "cancelled" in private_text(bot, teacher)


async def test_one_line_report_in_group_to_rating(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    ticket = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    assert ticket.category_key == "plumbing" and ticket.place.endswith("实验楼3楼女厕")
    assert "BX-2611-001" in private_text(bot, cast.teacher)
    card = _card(bot, ticket)
    # a teacher cannot take the job
    refused = await cast.teacher.press(card, "Take")
    assert refused is not None and "repair staff" in str(refused.text)
    await cast.plumber.press(card, "Take")
    card = _card(bot, ticket)
    assert "Taken" in card.shown_text and "李师傅" in card.shown_text
    assert "李师傅" in private_text(bot, cast.teacher)
    # pressing the old button again changes nothing
    again = await cast.fixer.press(card, "Start repair")
    assert again is not None and "李师傅" in str(again.text)
    await cast.plumber.press(card, "Start repair")
    assert "Being repaired" in _card(bot, ticket).shown_text
    # a worker cannot complete another's job
    refused = await cast.fixer.press(_card(bot, ticket), "Repair done")
    assert refused is not None and "李师傅" in str(refused.text)
    await cast.plumber.press(_card(bot, ticket), "Repair done")
    await cast.plumber.press(_last(bot, cast.plumber), "Fixed")
    await cast.plumber.send_photo(caption="换了阀芯")
    await cast.plumber.press(_last(bot, cast.plumber), "⏭ Skip materials and hours")
    assert "Waiting for acceptance" in _card(bot, ticket).shown_text
    done = _last(bot, cast.teacher)
    assert done.photo is not None and "换了阀芯" in done.shown_text
    await cast.teacher.press(done, "Accept")
    await cast.teacher.press(_last(bot, cast.teacher), "★★★★☆")
    await cast.teacher.send("修得很快，谢谢")
    closed = await _ticket(services, ticket.number)
    assert closed.status == TicketStatus.CLOSED and closed.rating == 4
    assert closed.rating_comment == "修得很快，谢谢"
    assert "Completed" in _card(bot, ticket).shown_text and _card(bot, ticket).buttons == [
        ["📍 Place history"]
    ]
    assert "★★★★☆" in private_text(bot, cast.plumber)
    async with services.database.transaction() as session:
        actions = [e.action for e in await tickets.events_of(session, closed.id or 0)]
    assert actions == ["report", "take", "start", "complete", "accept"]


async def test_group_report_without_details_and_deep_link(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    await cast.teacher.send("/report", chat=cast.teachers)
    answer = bot.last_message(cast.teachers.id)
    assert answer.inline_keyboard[0][0]["url"] == "https://t.me/houqin_bot?start=report"
    # a line without a place: the rest is asked in private
    await cast.teacher.send("/report 投影仪不亮", chat=cast.teachers)
    assert "the place" in bot.last_message(cast.teachers.id).shown_text
    await cast.teacher.start_bot("report")
    assert "Where is it" in private_text(bot, cast.teacher)
    await cast.teacher.send("教学楼301")
    ticket = await _ticket(services, "BX-2611-001")
    assert ticket.category_key == "av" and ticket.place == "教学楼301"
    # a stranger who is in no bound group is told how to get access
    stranger = bot.add_user("路人")
    await stranger.send("/report 灯坏了")
    assert "invite" in private_text(bot, stranger)
    # a member of the teachers' group who never registered may report
    guest = bot.add_user("钱老师")
    cast.teachers.add_member(guest)
    await guest.send("/report 行政楼2楼卫生间马桶堵了", chat=cast.teachers)
    filed = await _ticket(services, "BX-2611-002")
    assert filed.reporter_id is None and filed.reporter_name == "钱老师"
    # a complete one-liner in private is filed at once, without a summary to confirm
    await cast.teacher2.send("/report 教学楼3楼301窗户关不上")
    assert "BX-2611-003" in private_text(bot, cast.teacher2)
    quick = await _ticket(services, "BX-2611-003")
    assert quick.category_key == "doors" and quick.room == "301"


async def test_duplicate_join_gets_updates(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    ticket = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    other = cast.teacher2
    await other.send("/report")
    await other.press(_last(bot, other), "水暖")
    await other.press(_last(bot, other), "实验楼")
    await other.press(_last(bot, other), "3楼")
    await other.press(_last(bot, other), "女厕")
    notice = _last(bot, other)
    assert ticket.number in notice.shown_text
    await other.press(notice, "Same problem")
    assert "follow" in private_text(bot, other)
    await cast.plumber.press(_card(bot, ticket), "Take")
    assert "李师傅" in private_text(bot, other)
    async with services.database.transaction() as session:
        assert [f.name for f in await tickets.followers_of(session, ticket.id or 0)] == ["刘洋"]
        assert len(await tickets.reporter_tickets(session, other.id)) == 1
    # a one-liner in the group finds the same ticket and offers to follow it
    await other.send("/report 实验楼3楼女厕水龙头漏水", chat=cast.teachers)
    assert ticket.number in bot.last_message(cast.teachers.id).shown_text
    answer = await cast.director.press(bot.last_message(cast.teachers.id), "Same problem")
    assert answer is not None and f"You follow {ticket.number} now" in str(answer.text)


async def test_assign_defer_reassign_release_reject(
    bot: BotApiSandbox, services: Services, cast: Cast, clock: ManualClock
) -> None:
    ticket = await _quick_report(services, bot, cast, "教学楼2楼男厕灯不亮")
    card = _card(bot, ticket)
    refused = await cast.plumber.press(card, "Assign")
    assert refused is not None and "director" in str(refused.text)
    await cast.director.press(card, "Assign")
    picker = _last(bot, cast.director)
    await cast.director.press(picker, "赵师傅")
    assert "赵师傅" in _card(bot, ticket).shown_text
    assigned = _last(bot, cast.fixer)
    assert ticket.number in assigned.shown_text and assigned.buttons
    # the picker pressed again changes nothing
    answer = await cast.director.press(picker, "李师傅") if picker.buttons else None
    assert answer is None or "赵师傅" in str(answer.text)
    # defer, from the assignee's private copy of the card
    await cast.fixer.press(assigned, "Ask to defer")
    await cast.fixer.send("等配件到货")
    await cast.fixer.send("12-01")
    deferred = await _ticket(services, ticket.number)
    assert deferred.status == TicketStatus.DEFERRED
    told = private_text(bot, cast.teacher)
    assert "等配件到货" in told and "12-01" in told
    # the director reassigns (转单) to the plumber
    await cast.director.press(_card(bot, ticket), "Hand over")
    await cast.director.press(_last(bot, cast.director), "李师傅")
    assert "李师傅" in _card(bot, ticket).shown_text
    # the plumber hands it back to the group with a reason
    await cast.plumber.press(_card(bot, ticket), "Hand over")
    await cast.plumber.send("不是电路问题，是灯具坏了")
    card = _card(bot, ticket)
    assert "Waiting to be taken" in card.shown_text
    assert card.buttons == [["Take", "Assign", "Return"], ["📍 Place history"]]
    # a teacher cannot return it; the fixer returns it with a reason
    refused = await cast.teacher.press(card, "Return")
    assert refused is not None
    await cast.fixer.press(card, "Return")
    await cast.fixer.send("/cancel")
    assert (await _ticket(services, ticket.number)).status == TicketStatus.OPEN
    await cast.fixer.press(card, "Return")
    await cast.fixer.send("学校统一更换，请找总务处")
    assert "Returned" in _card(bot, ticket).shown_text
    assert "总务处" in private_text(bot, cast.teacher)
    pressed = await cast.fixer.press(assigned, "Start repair")  # an old private copy
    assert pressed is not None and "Returned" in str(pressed.text)
    async with services.database.transaction() as session:
        actions = [e.action for e in await tickets.events_of(session, ticket.id or 0)]
    assert actions == ["report", "assign", "defer", "transfer", "release", "reject"]


async def test_rework_mytickets_withdraw_nudge_and_auto_close(
    bot: BotApiSandbox, services: Services, cast: Cast, clock: ManualClock
) -> None:
    first = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    second = await _quick_report(services, bot, cast, "教学楼3楼301窗户关不上")
    await cast.plumber.press(_card(bot, first), "Take")
    await cast.teacher.send("/mytickets")
    listing = _last(bot, cast.teacher)
    assert first.number in listing.shown_text and "Taken" in listing.shown_text
    await cast.teacher.press(listing, "Nudge 001")
    assert "please deal with it" in private_text(bot, cast.plumber)
    too_soon = await cast.teacher.press(listing, "Nudge 001")
    assert too_soon is not None and "nudge again" in str(too_soon.text)
    await cast.teacher.press(_last(bot, cast.teacher), "Withdraw 002")
    assert "Withdrawn" in _card(bot, second).shown_text
    # done → rework → done again → left alone → closed automatically after 7 days
    await cast.plumber.press(_card(bot, first), "Repair done")
    await cast.plumber.press(_last(bot, cast.plumber), "Fixed")
    await cast.plumber.press(_last(bot, cast.plumber), "Skip")
    await cast.plumber.press(_last(bot, cast.plumber), "⏭ Skip materials and hours")
    await cast.teacher.press(_last(bot, cast.teacher), "Rework")
    await cast.teacher.send("还是在滴水")
    assert "还是在滴水" in private_text(bot, cast.plumber)
    assert "Rework" in _card(bot, first).shown_text
    await cast.plumber.press(_card(bot, first), "Repair done")
    await cast.plumber.press(_last(bot, cast.plumber), "Replaced")
    await cast.plumber.send("换了新龙头")
    await cast.plumber.press(_last(bot, cast.plumber), "⏭ Skip materials and hours")
    clock.advance(timedelta(days=7, hours=1))
    assert "tickets.auto_accept" in await run_due(cast.app, names=["tickets.auto_accept"])
    closed = await _ticket(services, first.number)
    assert closed.status == TicketStatus.CLOSED and closed.auto_closed and closed.rating == 5
    assert "automatically" in private_text(bot, cast.teacher)
    assert "Completed" in _card(bot, first).shown_text


async def test_overdue_digest_once_and_urgent_alert(
    bot: BotApiSandbox, services: Services, cast: Cast, clock: ManualClock
) -> None:
    urgent = await _quick_report(services, bot, cast, "行政楼1楼后勤处水管爆了")
    normal = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    assert urgent.urgency_key == "urgent" and normal.urgency_key == "normal"
    clock.advance(timedelta(minutes=31))
    mark = bot.mark()
    assert "tickets.overdue" in await run_due(cast.app, names=["tickets.overdue"])
    to_group = [m for m in bot.bot_messages_since(mark) if m.chat_id == cast.repair.id]
    assert len(to_group) == 1 and urgent.number in to_group[0].shown_text
    assert normal.number not in to_group[0].shown_text
    to_director = [m for m in bot.bot_messages_since(mark) if m.chat_id == cast.director.id]
    assert len(to_director) == 1 and "Urgent" in to_director[0].shown_text
    # the next checks say nothing new
    clock.advance(timedelta(minutes=5))
    mark = bot.mark()
    await run_due(cast.app, names=["tickets.overdue"])
    assert bot.bot_messages_since(mark) == []
    # a day later the normal one is late too: one digest, nothing for the director
    clock.advance(timedelta(hours=24))
    mark = bot.mark()
    await run_due(cast.app, names=["tickets.overdue"])
    sent = bot.bot_messages_since(mark)
    assert [m.chat_id for m in sent] == [cast.repair.id]
    assert normal.number in sent[0].shown_text and urgent.number not in sent[0].shown_text
    await cast.teacher.send("/tickets")
    assert "Your role" in private_text(bot, cast.teacher)
    await cast.plumber.send("/tickets")
    listing = _last(bot, cast.plumber)
    assert "2 overdue" in listing.shown_text and urgent.number in listing.shown_text
    await cast.plumber.press(listing, "Only mine")
    assert urgent.number not in _last(bot, cast.plumber).shown_text


async def test_form_resumes_after_restart(services: Services, sandbox: BotApiSandbox) -> None:
    async with running_bot(services, sandbox) as application:
        cast = await _cast(sandbox, services, application)
        teacher = cast.teacher
        await teacher.send("/report")
        await teacher.press(_last(sandbox, teacher), "门窗锁")
        await teacher.press(_last(sandbox, teacher), "本部·教学楼")
    async with running_bot(services, sandbox):
        await teacher.send("/report")  # shows where the form stands
        assert "Which floor" in private_text(sandbox, teacher)
        await teacher.press(_last(sandbox, teacher), "2楼")
        await teacher.press(_last(sandbox, teacher), "202")
        await teacher.send("x" * 600)
        assert "at most" in private_text(sandbox, teacher) or "characters" in private_text(
            sandbox, teacher
        )
        await teacher.send("前门门锁坏了，锁不上")
        await teacher.press(_last(sandbox, teacher), "Skip")
        await teacher.press(_last(sandbox, teacher), "一般")
        summary = _last(sandbox, teacher)
        await teacher.press(summary, "Change")
        await teacher.press(_last(sandbox, teacher), "Urgency")
        await teacher.press(_last(sandbox, teacher), "预约")
        await teacher.press(_last(sandbox, teacher), "Submit")
        ticket = await _ticket(services, "BX-2611-001")
        assert ticket.category_key == "doors" and ticket.urgency_key == "scheduled"
        assert ticket.place.endswith("教学楼2楼202") and ticket.accept_by is None
    assert sandbox.rejected == []


async def test_the_reporter_is_answered_at_once_even_during_a_broadcast(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    """The confirmation answers the teacher who reported; it does not queue behind the
    monthly broadcast the outbox is sending at 30 messages a second."""
    async with services.database.transaction() as session:
        for i in range(90):
            await outbox.notify(
                session, services, key=f"bulk:{i}", chat_id=cast.director.id, text=f"月度通报{i}"
            )
    outbox.deliver_soon(cast.app.bot, services)  # three seconds of broadcast
    await cast.teacher.send("/report 实验楼3楼女厕水龙头一直滴水", chat=cast.teachers, settle=False)
    confirmation = await bot.wait_for_message(
        cast.teacher.private_chat_id, lambda m: "BX-2611-001" in m.shown_text
    )
    broadcast = [m for m in bot.messages(cast.director.id) if "月度通报" in m.shown_text]
    assert len(broadcast) < 90, "the confirmation waited for the broadcast"
    assert "Time limit" in confirmation.shown_text
    await bot.settle()
    assert len([m for m in bot.messages(cast.director.id) if "月度通报" in m.shown_text]) == 90


async def test_a_confirmation_telegram_refuses_is_delivered_later_once(
    bot: BotApiSandbox, services: Services, cast: Cast, clock: ManualClock
) -> None:
    bot.fail_next("sendMessage", status=502, chat_id=cast.teacher.private_chat_id)
    ticket = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    assert ticket.number == "BX-2611-001"  # filed, and the group was told
    assert not [m for m in bot.messages(cast.teacher.private_chat_id) if "BX-" in m.shown_text]
    clock.advance(timedelta(minutes=1))
    assert (await outbox.deliver(cast.app.bot, services)).sent == 1
    assert (await outbox.deliver(cast.app.bot, services)).sent == 0
    confirmations = [
        m for m in bot.messages(cast.teacher.private_chat_id) if "BX-2611-001" in m.shown_text
    ]
    assert len(confirmations) == 1


# --- presses nobody offered, old buttons, forms parked by forms -------------------------------


async def _forge(
    sandbox: BotApiSandbox, user: SandboxUser, message: SentMessage, data: str
) -> CallbackAnswer:
    """Press `message` with callback data it never showed, as a modified client can: the bot
    gets the message as the bot sent it, and the forged data."""
    stored = next(
        m
        for m in sandbox.messages(message.chat_id)
        if m.message_id == message.message_id and m.chat_id == message.chat_id
    )
    first = stored.inline_keyboard[0][0]
    genuine = first["callback_data"]
    first["callback_data"] = data
    try:
        await user.press(stored, str(first["text"]), settle=False)
    finally:
        first["callback_data"] = genuine  # before the bot reads the update
    await sandbox.settle()
    return list(sandbox.callback_answers.values())[-1]


async def test_forged_and_old_buttons_are_refused_in_one_line(
    bot: BotApiSandbox, services: Services, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    card = _card(bot, ticket)
    plumber, teacher, teacher2 = cast.plumber, cast.teacher, cast.teacher2
    # no such ticket: zero, unknown, a number no database holds
    for data in ("tk2:take:0", "tk2:take:99999"):
        answer = await _forge(bot, plumber, card, data)
        assert answer.show_alert and "no longer exists" in str(answer.text)
    answer = await _forge(bot, plumber, card, "tk2:take:12345678901234567890123456")
    assert answer.show_alert and "not valid" in str(answer.text)
    # a button of an earlier release
    answer = await _forge(bot, plumber, card, f"tk:take:{ticket.id}")
    assert answer.show_alert and "expired" in str(answer.text)
    assert (await _ticket(services, ticket.number)).status == TicketStatus.OPEN
    # 同一问题 on a ticket the presser was never shown
    await teacher2.send("/report")  # a message of theirs with buttons: the report form's
    prompt = _last(bot, teacher2)
    answer = await _forge(bot, teacher2, prompt, f"tk2:follow:{ticket.id}")
    assert "not valid" in str(answer.text)
    async with services.database.reading() as session:
        assert await tickets.followers_of(session, ticket.id or 0) == []
    # the fix is accepted and rated by the reporter only
    await plumber.press(card, "Take")
    # a crew member who does not hold the job
    answer = await _forge(bot, cast.fixer, _card(bot, ticket), f"tk2:complete:{ticket.id}")
    assert "李师傅 holds this job" in str(answer.text)
    await plumber.press(_card(bot, ticket), "Repair done")
    await plumber.press(_last(bot, plumber), "Fixed")
    await plumber.press(_last(bot, plumber), "Skip")
    await plumber.press(_last(bot, plumber), "⏭ Skip materials and hours")
    for data in (f"tk2:accept:{ticket.id}", f"tk2:rework:{ticket.id}", f"tkr1:{ticket.id}:5"):
        answer = await _forge(bot, teacher2, prompt, data)
        assert "Only the person who reported it" in str(answer.text), data
    await teacher.send("/mytickets")
    answer = await _forge(bot, teacher, _last(bot, teacher), f"tkr1:{ticket.id}:9")
    assert "not valid" in str(answer.text)
    assert (await _ticket(services, ticket.number)).status == TicketStatus.AWAITING_ACCEPTANCE
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_report_half_way_is_parked_by_a_repair_job_and_resumed(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    first = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    second = await _quick_report(services, bot, cast, "教学楼2楼男厕灯不亮")
    plumber = cast.plumber
    await plumber.press(_card(bot, first), "Take")
    await plumber.press(_card(bot, second), "Take")
    # the plumber starts a report of their own and leaves it at the floor
    await plumber.send("/report")
    await plumber.press(_last(bot, plumber), "门窗锁")
    await plumber.press(_last(bot, plumber), "实验楼")
    assert "Which floor" in private_text(bot, plumber)
    # a job's result parks the report (its draft is kept) …
    mark = bot.mark()
    await plumber.press(_card(bot, first), "Repair done")
    said = [m for m in bot.bot_messages_since(mark) if m.chat_id == plumber.id]
    assert any("repair request is put aside" in m.shown_text for m in said)
    assert any("Send /report to go on" in m.shown_text for m in said)
    await plumber.press(next(m for m in said if "What was the result" in m.shown_text), "Fixed")
    await plumber.send("换了阀芯")
    await plumber.press(_last(bot, plumber), "⏭ Skip materials and hours")
    assert (await _ticket(services, first.number)).status == TicketStatus.AWAITING_ACCEPTANCE
    # … and /report goes on where it was
    await plumber.send("/report")
    assert "Continuing your repair request" in private_text(bot, plumber)
    assert "Which floor" in private_text(bot, plumber)
    # the other way round: a reason being typed is closed by /report, and what is typed next
    # goes to the report
    await plumber.press(_card(bot, second), "Ask to defer")
    mark = bot.mark()
    await plumber.send("/report")
    texts = [m.shown_text for m in bot.bot_messages_since(mark) if m.chat_id == plumber.id]
    assert any("repair job input was cancelled" in t for t in texts)
    floors = next(m for m in bot.bot_messages_since(mark) if "Which floor" in m.shown_text)
    await plumber.press(floors, "3楼")
    assert "Which room" in private_text(bot, plumber)
    assert (await _ticket(services, second.number)).status == TicketStatus.ACCEPTED


async def test_a_report_draft_of_the_previous_release_resumes(
    services: Services, sandbox: BotApiSandbox
) -> None:
    """A report half-way when the bot is upgraded: the old conversation is gone, the draft
    (user_data["tk_form"], as the earlier release wrote it) is picked up by /report."""
    async with running_bot(services, sandbox) as application:
        cast = await _cast(sandbox, services, application)
    old_draft: dict[str, object] = {
        "category": "doors",
        "building": "teaching",
        "floor": None,
        "room": None,
        "place": None,
        "place_done": False,
        "dup_done": False,
        "description": None,
        "photos": [],
        "photos_done": False,
        "urgency": None,
        "step": "floor",
        "token": "0123456789abcdef",
    }
    async with services.database.transaction() as session:
        await persisted_state.save(
            session,
            kind="user",
            key=str(cast.teacher.id),
            data={"tk_form": old_draft},
            now=services.now(),
        )
    async with running_bot(services, sandbox):
        await cast.teacher.send("/report")
        assert "Continuing your repair request" in private_text(sandbox, cast.teacher)
        assert "Which floor of 教学楼" in private_text(sandbox, cast.teacher)
        await cast.teacher.press(_last(sandbox, cast.teacher), "2楼")
        assert "Which room" in private_text(sandbox, cast.teacher)
    assert sandbox.rejected == []


async def test_a_report_half_way_is_kept_through_a_log_and_resumed(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    plumber = cast.plumber
    await plumber.send("/report")
    await plumber.press(_last(bot, plumber), "门窗锁")
    await plumber.press(_last(bot, plumber), "实验楼")
    mark = bot.mark()
    await plumber.send("/log")
    said = [m.shown_text for m in bot.bot_messages_since(mark) if m.chat_id == plumber.id]
    assert any("repair request is put aside" in t and "/report" in t for t in said)
    await plumber.send("更换实验楼3楼灯管")  # goes to the log, not to the report
    log_form = next(m for m in reversed(bot.messages(plumber.id, from_bot=True)) if m.buttons)
    assert "1. 更换实验楼3楼灯管" in log_form.shown_text
    mark = bot.mark()
    await plumber.send("/report")
    answers = [m for m in bot.bot_messages_since(mark) if m.chat_id == plumber.id]
    assert any("work log is put aside" in m.shown_text for m in answers)
    floors = next(m for m in answers if "Continuing your repair request" in m.shown_text)
    assert "Which floor" in floors.shown_text
    await plumber.press(floors, "3楼")
    assert "Which room" in private_text(bot, plumber)
