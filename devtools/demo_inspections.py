"""Demo scenes of inspections (检查): a weekly round from its opening to the 通报."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from storage import inspection_calendar as calendar

if TYPE_CHECKING:
    from devtools.demo import School


def _button(message: SentMessage, prefix: str) -> str:
    """The visible text of the button whose callback data starts with `prefix`."""
    for row in message.inline_keyboard:
        for b in row:
            if str(b.get("callback_data", "")).startswith(prefix):
                return str(b["text"])
    raise LookupError(f"no button {prefix!r} on {message.shown_text!r}")


async def _press(school: School, user: SandboxUser, prefix: str) -> None:
    message = school.sandbox.last_message(user.private_chat_id)
    await user.press(message, _button(message, prefix))


def _next_round_time(school: School) -> datetime:
    """The weekly plan's next opening on a school day, from the demo's current time."""
    profile = school.services.profile
    plan = profile.inspection_plan("weekly")
    moment = school.clock.now()
    for _ in range(60):
        fire = profile.plan_trigger(plan).get_next_fire_time(None, moment)
        assert fire is not None
        if calendar.skip_reason(profile, plan, fire.date()) is None:
            return fire
        moment = fire + timedelta(minutes=1)
    raise LookupError("no weekly round within a year")


async def scene_weekly_round(school: School) -> None:
    """Friday 15:00: the weekly round opens; 李师傅 walks it with one 异常 and a photo."""
    plumber = school.people["plumber"]
    school.clock.set(_next_round_time(school))
    school.say(f"{school.clock.now():%m-%d %H:%M} 每周小查按计划开始")
    await school.run_jobs("inspections.open.weekly")
    school.clock.advance(timedelta(minutes=10))
    await _press(school, plumber, "ins2:start:")
    await _press(school, plumber, "ins2:ok:")
    await _press(school, plumber, "ins2:area:")
    school.say("李师傅在教学楼二楼男厕发现水龙头滴水")
    school.clock.advance(timedelta(minutes=25))
    await _press(school, plumber, "ins2:bad:")
    await plumber.send("男厕洗手池水龙头关不紧，一直滴水")
    await plumber.send_photo()
    await plumber.send("教学楼2楼男厕")
    school.clock.advance(timedelta(minutes=15))
    await _press(school, plumber, "ins2:ok:")


async def scene_results(school: School) -> None:
    """The director looks at the rounds, a round's detail and the recurring problems."""
    director = school.people["director"]
    await director.send("/inspections")
    await _press(school, director, "insr1:")
    await director.send("/inspections")
    await _press(school, director, "inst1:")


SCENES: list[tuple[str, Callable[[School], Awaitable[None]]]] = [
    ("每周小查：开始、逐项检查、异常转维修单、通报", scene_weekly_round),
    ("主任查看检查结果和问题趋势", scene_results),
]
