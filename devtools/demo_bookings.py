"""Demo scenes of meeting and reception services (会务与接待): a teacher's request, the staff
working through the standard checklist, the reminder, and the teacher's rating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import select

from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from storage.booking_models import Booking

if TYPE_CHECKING:
    from devtools.demo import School

CHECK = "bookings.check"


def _button(message: SentMessage, prefix: str) -> str:
    for row in message.inline_keyboard:
        for b in row:
            if str(b.get("callback_data", "")).startswith(prefix):
                return str(b["text"])
    raise LookupError(f"no button {prefix!r} on {message.shown_text!r}")


async def _press(school: School, user: SandboxUser, prefix: str) -> None:
    """Press the button on the latest message in the user's private chat that has it."""
    for message in reversed(school.sandbox.messages(user.private_chat_id, from_bot=True)):
        try:
            text = _button(message, prefix)
        except LookupError:
            continue
        await user.press(message, text)
        return
    raise LookupError(f"no button {prefix!r} for {user.name}")


def _at(school: School, month: int, day: int, hour: int, minute: int) -> None:
    """Move the demo clock forward to this school time (never back)."""
    wanted = datetime(2026, month, day, hour, minute, tzinfo=school.services.profile.tz)
    if wanted > school.clock.now():
        school.clock.set(wanted)


async def _booking(school: School, title: str) -> Booking:
    async with school.services.database.reading() as session:
        found = (await session.exec(select(Booking).where(Booking.title == title))).first()
    assert found is not None
    return found


async def scene_request(school: School) -> None:
    """Friday afternoon: 王芳 asks for Monday's 教研会; the venue she wants is taken."""
    teacher, director = school.people["teacher"], school.people["director"]
    _at(school, 11, 27, 16, 30)
    school.say("周五 16:30 王芳申请下周一的年级教研会")
    await teacher.send("/service")
    await _press(school, teacher, "bkf1:k:meeting")
    await teacher.send("高一年级组教研会")
    await teacher.send("18")
    await _press(school, teacher, "bkf1:d:2026-11-30")
    await teacher.send("14:00-15:30")
    await _press(school, teacher, "bkf1:v:office_meeting")
    for need in ("tea", "screen"):
        await _press(school, teacher, f"bkf1:n:{need}")
    await _press(school, teacher, "bkf1:nd:")
    await _press(school, teacher, "bkf1:c:")
    await teacher.send("需要提前把投影调好")
    await _press(school, teacher, "bkf1:w:1")
    await _press(school, teacher, "bkf1:s:")
    school.say("张主任也想在同一时间用这间会议室开行政会")
    await director.send("/service")
    await _press(school, director, "bkf1:k:meeting")
    await director.send("行政会")
    await director.send("12")
    await _press(school, director, "bkf1:d:2026-11-30")
    await director.send("14:30-15:30")
    await _press(school, director, "bkf1:v:office_meeting")
    await _press(school, director, "bkf1:v:office_small")
    await _press(school, director, "bkf1:nd:")
    await _press(school, director, "bkf1:c:")
    await _press(school, director, "bkf1:sn:")
    await _press(school, director, "bkf1:w:4")
    await _press(school, director, "bkf1:s:")


async def scene_checklist_and_rating(school: School) -> None:
    """The staff tick the checklist (the reminder comes on Friday, not on Sunday); after the
    meeting 王芳 rates it."""
    first = (await _booking(school, "高一年级组教研会")).id
    cleaner, plumber = school.people["cleaner"], school.people["plumber"]
    teacher = school.people["teacher"]
    _at(school, 11, 27, 16, 40)
    await school.run_jobs(CHECK)
    for step in ("notice", "setup", "tea"):
        await _press(school, cleaner, f"bks1:{first}:{step}")
    await _press(school, plumber, f"bks1:{first}:support")
    await _press(school, cleaner, f"bk1:ph:{first}")
    await cleaner.send_photo()
    _at(school, 11, 30, 15, 35)
    school.say("周一 15:35 会议结束")
    await school.run_jobs(CHECK)
    await _press(school, teacher, f"bkr1:{first}:5")
    await teacher.send("会场整洁，茶水及时，谢谢！")
    await _press(school, cleaner, f"bks1:{first}:cleanup")
    await school.people["director"].send("/meetings")


SCENES: list[tuple[str, Callable[[School], Awaitable[None]]]] = [
    ("会务申请：标准流程、场地冲突换场地、每周例会", scene_request),
    ("会务保障：按流程布置、提醒、会后评价", scene_checklist_and_rating),
]
