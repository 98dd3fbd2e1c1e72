"""Inspection buttons through the callback-data codec: an old-format button (sent by an earlier
release) is answered as expired, forged presses (another person's round, an item that is not
on the round's checklist, ids no row can have) are refused in one line without a traceback,
and a stale 开始检查 of a finished round says so and loses its button. Through the real bot and
the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import CallbackAnswer, SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.inspections import RoundDetailButton, TrendButton, WalkAction, WalkButton
from notices.services import Services
from school.clock import ManualClock
from storage.models import InspectionMark
from tests.test_inspections_e2e import CHECK, FRIDAY_1500, crew, last, open_weekly, press, run

EXPIRED = "此按钮已过期"
NOT_VALID = "此按钮无效"
NO_ROUND = "这次检查已不存在"
NOT_INSPECTOR = "你不是这次检查的检查人"
NO_ITEM = "这一项已不在检查清单中"


async def press_data(
    sandbox: BotApiSandbox, user: SandboxUser, message: SentMessage, data: str
) -> CallbackAnswer | None:
    """Press a button carrying `data` on `message`, as a forged (or old) client would."""
    sandbox._callback_seq += 1
    query_id = f"{sandbox.bot_id}{sandbox._callback_seq:08d}"
    sandbox._open_queries.add(query_id)
    sandbox._emit(
        {
            "callback_query": {
                "id": query_id,
                "from": user.user_dict(),
                "message": message.data,
                "chat_instance": "1",
                "data": data,
            }
        }
    )
    await sandbox.settle()
    return sandbox.callback_answers.get(query_id)


async def answer_to(
    sandbox: BotApiSandbox, user: SandboxUser, data: str, message: SentMessage | None = None
) -> str:
    answer = await press_data(sandbox, user, message or last(sandbox, user), data)
    assert answer is not None, f"{data!r} was not answered"
    return answer.text or ""


async def marks(services: Services) -> int:
    async with services.database.reading() as session:
        return len((await session.exec(select(InspectionMark))).all())


async def test_old_and_forged_inspection_buttons_are_refused_without_a_traceback(
    services: Services,
    sandbox: BotApiSandbox,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber, director = team.plumber, team.director
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        caplog.clear()
        caplog.set_level(logging.WARNING)

        # Buttons of the earlier, unversioned format: expired, not misread.
        for old in (f"ins:start:{rid}", f"ins:ok:{rid}:lights_off", f"ins:view:{rid}"):
            assert EXPIRED in await answer_to(sandbox, plumber, old)
        assert await marks(services) == 0

        # Somebody else's round: the director is not an inspector of the weekly round.
        ok = WalkButton(WalkAction.OK, rid, "lights_off").encode()
        assert NOT_INSPECTOR in await answer_to(sandbox, director, ok)
        assert NOT_INSPECTOR in await answer_to(sandbox, director, ok.replace(":ok:", ":bad:"))
        # An item key that does not exist, or one of another plan's checklist.
        for key in ("no_such_item", "extinguishers"):
            for action in (WalkAction.OK, WalkAction.AREA, WalkAction.BAD):
                data = WalkButton(action, rid, key).encode()
                assert NO_ITEM in await answer_to(sandbox, plumber, data)
        assert await marks(services) == 0
        assert "1/7" in last(sandbox, plumber).shown_text  # the walk is where it was

        # Ids no row has: zero and the largest a button may carry.
        for round_id in (0, 2**31 - 1):
            for action in (WalkAction.START, WalkAction.OK, WalkAction.PAUSE):
                data = WalkButton(action, round_id, "lights_off").encode()
                assert NO_ROUND in await answer_to(sandbox, plumber, data)
            view = RoundDetailButton(round_id).encode()
            assert NO_ROUND in await answer_to(sandbox, director, view)
        for forged in (
            "ins2:ok:" + "9" * 26 + ":lights_off",
            f"ins2:ok:{2**31}:lights_off",  # past a 32-bit column
            "ins2:ok:-1:lights_off",
            f"ins2:jump:{rid}:lights_off",
            f"ins2:ok:{rid}",
            "insr1:" + "9" * 26,
            "inst1:" + "9" * 26,
        ):
            assert NOT_VALID in await answer_to(sandbox, plumber, forged)
        # A trend over an absurd number of months is cut to a year.
        await answer_to(sandbox, director, TrendButton(2**31 - 1).encode())
        assert "📈" in last(sandbox, director).shown_text
        # Skip and place buttons outside the 异常 they belong to.
        for data in (
            WalkButton(WalkAction.SKIP, rid).encode(),
            WalkButton(WalkAction.PLACE, rid, "teaching").encode(),
        ):
            assert EXPIRED in await answer_to(sandbox, plumber, data)

        assert await marks(services) == 0
        problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert problems == [], [r.getMessage() for r in problems]
        # (re-showing the walk where it was is a "not modified" edit, which is no error)
        assert [r for r in sandbox.rejected if "not modified" not in str(r)] == []


async def test_a_stale_start_button_of_a_finished_round_says_so(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber, fixer = team.plumber, team.fixer
        opening = last(sandbox, fixer)  # 开始检查, left unpressed
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        for _ in range(7):
            message = last(sandbox, plumber)
            if not message.inline_keyboard:
                break
            await press(sandbox, plumber, message, f"ins2:ok:{rid}:")
        assert "7" in last(sandbox, plumber).shown_text

        # completed by 李师傅: when, and the result
        assert "7/7" in await answer_to(sandbox, fixer, f"ins2:start:{rid}:-", opening)
        current = sandbox._messages[(opening.chat_id, opening.message_id)]
        assert current.inline_keyboard == []  # the stale button is gone
        mark = sandbox.mark()
        answer = await answer_to(sandbox, fixer, f"ins2:ok:{rid}:lights_off", opening)
        assert "李师傅" in answer and "完成" in answer
        assert [m for m in sandbox.bot_messages_since(mark) if m.chat_id == fixer.id] == []


async def test_a_start_button_past_the_deadline_says_marks_count_as_late(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        opening = last(sandbox, team.fixer)
        clock.set(FRIDAY_1500.replace(hour=18, minute=30))
        assert await run(application, CHECK) == [CHECK]  # closed at the deadline
        await sandbox.settle()
        answer = await answer_to(sandbox, team.fixer, f"ins2:start:{rid}:-", opening)
        assert "已过截止时间" in answer
        assert "1/7" in last(sandbox, team.fixer).shown_text  # marking late is still possible
