"""`houqin demo` scenes of the work logs: a day of logs, the 17:00 reminder, leave, the
evening summary and the Excel ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from school.i18n import translator

if TYPE_CHECKING:
    from devtools.demo import School


def _t(school: School) -> Callable[[str], str]:
    """Button labels in the language the demo's people read."""
    return translator(school.services.settings.language.value)


def _move_to(school: School, hour: int, minute: int = 0) -> datetime:
    """Move the clock forward to hour:minute today, or on the next working day if past it."""
    now = school.services.local_now()
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    calendar = school.services.profile.calendar
    while target < now or not calendar.is_working_day(target.date()):
        target = (target + timedelta(days=1)).replace(hour=hour, minute=minute)
    school.clock.set(target)
    return target


async def scene_filing(school: School) -> None:
    """李师傅 writes today's log: duties shown, draft pre-filled, items, a photo, hours."""
    t_ = _t(school)
    sandbox = school.sandbox
    plumber = school.people["plumber"]
    _move_to(school, 16, 30)
    school.say("16:30，李师傅打开今天的工作日志")
    await plumber.send("/log")
    form = sandbox.last_message(plumber.id)  # one message, edited as the log grows
    await plumber.send("更换教学楼3楼走廊灯管2根\n检查配电房运行情况并记录")
    await plumber.send_photo(caption="抄录本月水电表")
    await plumber.press(form, t_("⏱ Hours"))
    await plumber.send("8")
    await plumber.press(form, t_("✅ Save"))


async def scene_reminder(school: School) -> None:
    """17:00: those without a log get a reminder; 陈阿姨 files from its button."""
    t_ = _t(school)
    sandbox = school.sandbox
    moment = _move_to(school, 17, 0)
    school.say("17:00，提醒还没有填写日志的员工（已填写的李师傅不会收到）")
    await school.run_jobs("worklogs.reminder")
    del moment
    cleaner = school.people["cleaner"]
    await cleaner.press(sandbox.last_message(cleaner.id), t_("📝 Write the log"))
    form = sandbox.last_message(cleaner.id)
    await cleaner.send("清扫教学楼1-3楼楼道和卫生间")
    await cleaner.send("垃圾分类收集、清运")
    await cleaner.press(form, t_("✅ Save"))


async def scene_summary(school: School) -> None:
    """The director records leave, gets the evening summary, views the day and the ledger."""
    director = school.people["director"]
    today = school.services.local_now().date()
    tomorrow = school.services.profile.calendar.next_working_day(today, include=False)
    await director.send(f"/leave 周师傅 {tomorrow:%m-%d} {tomorrow:%m-%d} 事假")
    moment = _move_to(school, 20, 30)
    school.say("20:30，当天日志汇总发给后勤主任")
    await school.run_jobs("worklogs.summary")
    del moment
    await director.send("/logs")
    await director.send(f"/ledger {today:%Y-%m}-01 {today:%Y-%m-%d}")


SCENES: list[tuple[str, Callable[[School], Awaitable[None]]]] = [
    ("工作日志：填写今天的日志（岗位职责提示、自动草稿）", scene_filing),
    ("工作日志：17:00 提醒未填写的员工", scene_reminder),
    ("工作日志：登记请假、晚间汇总和导出工作台账", scene_summary),
]
