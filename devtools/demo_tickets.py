"""Demo scenes of repairs (报修): a teacher's report goes all the way to a rating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from school.i18n import translator

if TYPE_CHECKING:
    from devtools.demo import School

zh = translator("zh_CN")  # button labels as the Chinese-speaking cast sees them


async def scene_report_form(school: School) -> None:
    """王芳 (back in Chinese) reports a dripping tap with the form and a photo."""
    sandbox = school.sandbox
    teacher = school.people["teacher"]
    await teacher.send("/lang")
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "中文")
    school.clock.advance(timedelta(minutes=5))
    await teacher.send("/report")
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "水暖")
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "本部·实验楼")
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "3楼")
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "女厕")
    await teacher.send("洗手池水龙头一直滴水，关不紧")
    await teacher.send_photo()
    await teacher.press(sandbox.last_message(teacher.private_chat_id), zh("Done"))
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "一般")
    await teacher.press(sandbox.last_message(teacher.private_chat_id), zh("Submit"))


async def scene_take_and_fix(school: School) -> None:
    """李师傅 takes the job in the repair group, repairs it and reports it done with a photo."""
    sandbox = school.sandbox
    plumber = school.people["plumber"]
    repair = school.groups["repair"]
    card = next(
        m
        for m in reversed(sandbox.messages(repair.id, from_bot=True))
        if any(zh("Take") == label for row in m.buttons for label in row)
    )
    school.clock.advance(timedelta(minutes=12))
    teacher = school.people["teacher"]
    await teacher.press(card, zh("Take"))  # a teacher cannot take jobs
    await plumber.press(card, zh("Take"))
    school.clock.advance(timedelta(minutes=20))
    await plumber.press(card, zh("Start repair"))
    school.clock.advance(timedelta(minutes=40))
    await plumber.press(card, zh("Repair done"))
    await plumber.press(
        sandbox.last_message(plumber.private_chat_id), zh("Replaced with a new one")
    )
    await plumber.send_photo(caption="更换了新水龙头，已试水")
    # the materials used, from the catalogue, and the hours
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "水龙头 ¥35.00/个")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), "1")
    await plumber.press(sandbox.last_message(plumber.private_chat_id), zh("✅ Done: hours next"))
    await plumber.press(
        sandbox.last_message(plumber.private_chat_id), zh("{hours} h").format(hours="1")
    )


async def scene_accept_and_rate(school: School) -> None:
    """王芳 checks the tap, accepts the job and rates it; 李师傅 sees the rating."""
    sandbox = school.sandbox
    teacher = school.people["teacher"]
    school.clock.advance(timedelta(hours=1))
    await teacher.press(sandbox.last_message(teacher.private_chat_id), zh("Accept"))
    await teacher.press(sandbox.last_message(teacher.private_chat_id), "★★★★★")
    await teacher.send("师傅来得很快，修得很好，谢谢！")
    await teacher.send("/mytickets")


async def scene_quick_report_and_assign(school: School) -> None:
    """刘洋 reports a burst pipe in one line in the group; the director assigns it at once."""
    sandbox = school.sandbox
    teacher2 = school.people["teacher2"]
    director = school.people["director"]
    repair = school.groups["repair"]
    await teacher2.send("/report 行政楼1楼后勤处水管爆了，地上全是水", chat=repair)
    card = sandbox.last_message(repair.id)
    for message in reversed(sandbox.messages(repair.id, from_bot=True)):
        if any(zh("Assign") == label for row in message.buttons for label in row):
            card = message
            break
    await director.press(card, zh("Assign"))
    await director.press(sandbox.last_message(director.private_chat_id), "李师傅")
    await school.people["plumber"].send("/tickets")


async def scene_urgent_overdue(school: School) -> None:
    """An urgent report nobody takes: the next check sends one digest and alerts the director."""
    sandbox = school.sandbox
    teacher2 = school.people["teacher2"]
    await teacher2.send("/report 男生宿舍楼2楼洗漱间水管爆裂，一直在跑水")
    school.say("30 分钟过去了，还没有人接单")
    school.clock.advance(timedelta(minutes=31))
    await school.run_jobs("tickets.overdue")
    school.clock.advance(timedelta(minutes=5))
    await school.run_jobs("tickets.overdue")  # the next check: nothing new to say
    school.say("5 分钟后的下一次检查没有重复提醒")
    repair = school.groups["repair"]
    card = next(
        m
        for m in reversed(sandbox.messages(repair.id, from_bot=True))
        if any(zh("Take") == label for row in m.buttons for label in row)
    )
    await school.people["plumber"].press(card, zh("Take"))


SCENES: list[tuple[str, Callable[[School], Awaitable[None]]]] = [
    ("报修：教师填写报修单（选位置、拍照）", scene_report_form),
    ("维修：接单、开始维修、完工拍照", scene_take_and_fix),
    ("验收：教师确认并评价", scene_accept_and_rate),
    ("一句话报修紧急漏水，主任指派", scene_quick_report_and_assign),
    ("紧急报修超时：维修群汇总提醒、主任告警", scene_urgent_overdue),
]
