"""The inspection walk as an inspector meets it, and the director's /rate card (Chinese, the
default language): an 异常's ticket number stays in view while the walk goes on, a double tap
says "you marked it" rather than naming oneself, a stale 开始检查 answers with the round's
result, late marks are taken only until the profile's limit (and the walk says until when),
and a saved score shows on its card. Through the real bot and the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.inspections import WalkAction, WalkButton
from notices.services import Services
from school.clock import ManualClock
from school.durations import parse_duration
from storage import inspection_calendar
from storage.models import Ticket
from tests.conftest import SCHOOL_TZ
from tests.test_appraisal_buttons import cast
from tests.test_inspections_buttons import answer_to, marks
from tests.test_inspections_e2e import (
    CHECK,
    FRIDAY_1500,
    WEEKLY_ITEMS,
    crew,
    last,
    mark_ok,
    no_rejected_requests,
    open_weekly,
    press,
    rounds,
    run,
    walk_started,
)

__all__ = ["no_rejected_requests"]  # the Bot API must refuse nothing the bot sends here


async def test_a_problem_keeps_its_ticket_number_in_view_while_the_walk_goes_on(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team, rid = await walk_started(sandbox, services, application, clock)
        plumber = team.plumber
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:bad:{rid}:lights_off")
        await plumber.send("三楼走廊灯一直亮着")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:skip:{rid}:")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:pl:{rid}:-")
        async with services.database.reading() as session:
            (ticket,) = (await session.exec(select(Ticket))).all()
        assert ticket.number in last(sandbox, plumber).shown_text  # right after the 异常
        await mark_ok(sandbox, plumber, rid, "ac_temperature")
        item3 = last(sandbox, plumber).shown_text
        assert WEEKLY_ITEMS[2] in item3 and "3/7" in item3
        assert ticket.number in item3 and WEEKLY_ITEMS[0] in item3  # still in view
        for _ in range(5):
            await press(sandbox, plumber, last(sandbox, plumber), f"ins2:ok:{rid}:")
        end = last(sandbox, plumber).shown_text
        assert "7" in end and ticket.number in end  # the end of the walk lists it too


async def test_a_double_tap_says_you_marked_it_yourself(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team, rid = await walk_started(sandbox, services, application, clock)
        plumber = team.plumber
        first = last(sandbox, plumber)
        ok = WalkButton(WalkAction.OK, rid, "lights_off").encode()
        await answer_to(sandbox, plumber, ok, first)
        answer = await answer_to(sandbox, plumber, ok, first)  # the same button again
        shown = last(sandbox, plumber).shown_text
        assert "李师傅" not in answer and "李师傅" not in shown
        assert "你已经" in answer and "你已经" in shown
        assert WEEKLY_ITEMS[1] in shown  # the walk goes on where it was
        assert await marks(services) == 1


async def test_a_stale_start_button_answers_with_the_rounds_result(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber, fixer = team.plumber, team.fixer
        plumber_opening, fixer_opening = last(sandbox, plumber), last(sandbox, fixer)
        lists = {}
        for user in (plumber, fixer):  # /inspections offers ▶ 继续 for the open round
            await user.send("/inspections")
            lists[user.id] = last(sandbox, user)
        start = f"ins2:start:{rid}:"
        await press(sandbox, plumber, plumber_opening, start)
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:area:{rid}:lights_off")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:area:{rid}:taps")
        for opening in (plumber_opening, fixer_opening):  # they say so, their buttons gone
            current = sandbox._messages[(opening.chat_id, opening.message_id)]
            assert current.inline_keyboard == [] and "已于" in current.shown_text
        mark = sandbox.mark()
        mine = await press(sandbox, plumber, lists[plumber.id], start)
        assert mine is not None and "你已完成" in str(mine.text) and "7/7" in str(mine.text)
        theirs = await press(sandbox, fixer, lists[fixer.id], start)
        assert theirs is not None and "李师傅" in str(theirs.text) and "7/7" in str(theirs.text)
        since = sandbox.bot_messages_since(mark)
        assert not any("ins2:ok" in str(m.inline_keyboard) for m in since)  # no walk reopened


async def test_late_marks_are_taken_until_the_profiles_limit_and_the_walk_says_until_when(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber, fixer = team.plumber, team.fixer
        opening, plumber_opening = last(sandbox, fixer), last(sandbox, plumber)
        clock.set(FRIDAY_1500.replace(hour=18, minute=30))
        assert await run(application, CHECK) == [CHECK]  # closed at the deadline
        await sandbox.settle()
        start = f"ins2:start:{rid}:"
        answer = await press(sandbox, fixer, opening, start)
        assert answer is not None and "逾期" in str(answer.text)
        assert "11-30 18:00" in str(answer.text)  # the default: 3 days after the deadline
        item1 = last(sandbox, fixer).shown_text
        assert "1/7" in item1 and "11-30 18:00" in item1
        await mark_ok(sandbox, fixer, rid, "lights_off")
        walk = last(sandbox, fixer)
        await fixer.send("/inspections")
        listing = last(sandbox, fixer)

        clock.set(datetime(2026, 11, 30, 18, 1, tzinfo=SCHOOL_TZ))
        mark = sandbox.mark()
        answer = await press(sandbox, fixer, listing, start)  # refused, with the result
        assert answer is not None and "11-30 18:00" in str(answer.text)
        assert "1/7" in str(answer.text)
        answer = await press(sandbox, fixer, walk, f"ins2:ok:{rid}:ac_temperature")
        assert answer is not None and "11-30 18:00" in str(answer.text)
        answer = await press(sandbox, plumber, plumber_opening, start)
        assert answer is not None and "11-30 18:00" in str(answer.text)
        assert await marks(services) == 1
        assert all("2/7" not in m.shown_text for m in sandbox.bot_messages_since(mark))
        await fixer.send("/inspections")
        assert not any(
            f"ins2:start:{rid}" in str(b.get("callback_data"))
            for row in last(sandbox, fixer).inline_keyboard
            for b in row
        )


async def test_late_marks_end_when_the_plans_next_round_opens(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    profile = services.profile
    weekly = profile.inspection_plan("weekly")
    async with running_bot(services, sandbox) as application:
        await crew(sandbox, services)
        await open_weekly(sandbox, application, clock)
        (round_,) = await rounds(services)
    friday_1800 = FRIDAY_1500.replace(hour=18)
    assert inspection_calendar.late_marks_until(profile, weekly, round_) == friday_1800 + timedelta(
        days=3
    )
    long = weekly.model_copy(update={"late_marks_for": parse_duration("10d")})
    next_friday = FRIDAY_1500 + timedelta(days=7)
    assert inspection_calendar.late_marks_until(profile, long, round_) == next_friday


async def test_a_saved_score_shows_on_its_card(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 5, 10, tzinfo=SCHOOL_TZ))
    async with running_bot(services, sandbox):
        users = await cast(sandbox, services)
        director = users["director"]
        await director.send("/rate 2026-10")
        first = sandbox.last_message(director.private_chat_id)
        assert "尚未评分" in first.shown_text and "李师傅" in first.shown_text
        await director.press(first, "90")
        card = sandbox._messages[(first.chat_id, first.message_id)]
        assert "90" in card.shown_text and "李师傅" in card.shown_text
        assert "尚未评分" not in card.shown_text and card.inline_keyboard == []
        second = sandbox.last_message(director.private_chat_id)
        assert "陈阿姨" in second.shown_text and "尚未评分" in second.shown_text
        await director.send("85")  # typed
        card = sandbox._messages[(second.chat_id, second.message_id)]
        assert "85" in card.shown_text and "陈阿姨" in card.shown_text
        assert "尚未评分" not in card.shown_text and card.inline_keyboard == []
    assert sandbox.rejected == []


async def test_a_problem_being_written_when_late_marks_end_is_refused_in_one_answer(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber
        clock.set(FRIDAY_1500.replace(hour=18, minute=30))
        assert await run(application, CHECK) == [CHECK]
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:bad:{rid}:lights_off")
        await plumber.send("三楼走廊灯一直亮着")
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:skip:{rid}:")
        clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SCHOOL_TZ))
        place = WalkButton(WalkAction.PLACE, rid, "teaching").encode()
        answer = await answer_to(sandbox, plumber, place, last(sandbox, plumber))
        assert "11-30 18:00" in answer
        assert await marks(services) == 0
