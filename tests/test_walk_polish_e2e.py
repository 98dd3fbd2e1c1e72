"""The inspection walk as an inspector meets it, and the director's /rate card (Chinese, the
default language): an 异常's ticket number stays in view while the walk goes on, a double tap
says "you marked it" rather than naming oneself, a stale 开始检查 answers with the round's
result, late marks are taken only until the profile's limit (and the walk says until when),
and a saved score shows on its card. Through the real bot and the sandbox."""

from __future__ import annotations

from sqlmodel import select

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.inspections import WalkAction, WalkButton
from notices.services import Services
from school.clock import ManualClock
from storage.models import Ticket
from tests.test_inspections_buttons import answer_to, marks
from tests.test_inspections_e2e import (
    WEEKLY_ITEMS,
    crew,
    last,
    mark_ok,
    open_weekly,
    press,
)


async def test_a_problem_keeps_its_ticket_number_in_view_while_the_walk_goes_on(
    services: Services, sandbox: BotApiSandbox, clock: ManualClock
) -> None:
    async with running_bot(services, sandbox) as application:
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
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
        team = await crew(sandbox, services)
        rid = await open_weekly(sandbox, application, clock)
        plumber = team.plumber
        await press(sandbox, plumber, last(sandbox, plumber), f"ins2:start:{rid}:")
        first = last(sandbox, plumber)
        ok = WalkButton(WalkAction.OK, rid, "lights_off").encode()
        await answer_to(sandbox, plumber, ok, first)
        answer = await answer_to(sandbox, plumber, ok, first)  # the same button again
        shown = last(sandbox, plumber).shown_text
        assert "李师傅" not in answer and "李师傅" not in shown
        assert "你已经" in answer and "你已经" in shown
        assert WEEKLY_ITEMS[1] in shown  # the walk goes on where it was
        assert await marks(services) == 1
