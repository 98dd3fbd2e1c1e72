"""A school seeded through the bot for the cockpit's tests, and signed launch data.

Monday 23 November 2026: two teachers' reports in the teachers' group (one urgent, overdue
by the time the page is opened), one plain one; 李师傅 files today's log, 周师傅 is on leave
(recorded with /leave), 赵师傅's log is missing; a stranger asks to join; this week's small
inspection round is open and last Friday's was announced with one problem (both written in
storage: the schedule opens rounds on Fridays).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cockpit import auth
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from school.settings import Language
from storage import inspections
from storage.models import InspectionMark, Role
from tests.helpers import person_of, register

COCKPIT_URL = "https://cockpit.school.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_cockpit(services: Services, *, language: Language = Language.EN) -> Services:
    """The services with the cockpit on, on a free local port."""
    settings = services.settings.model_copy(
        update={
            "cockpit_url": COCKPIT_URL,
            "cockpit_listen": "127.0.0.1",
            "cockpit_port": free_port(),
            "language": language,
        }
    )
    return replace(services, settings=settings)


@dataclass
class School:
    director: SandboxUser
    electrician: SandboxUser  # 李师傅: filed today's log
    fixer: SandboxUser  # 赵师傅: log missing
    guard: SandboxUser  # 周师傅: on leave
    teacher: SandboxUser
    numbers: list[str]


async def seed(sandbox: BotApiSandbox, services: Services, clock: ManualClock) -> School:
    """The school of the module docstring, every step through the bot."""
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    electrician = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    fixer = await register(sandbox, services, "赵师傅", Role.STAFF, "repair")
    guard = await register(sandbox, services, "周师傅", Role.STAFF, "guard")
    teacher = await register(sandbox, services, "王芳", Role.TEACHER)
    repair = sandbox.add_group("维修群", members=[director, electrician, fixer])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    teachers = sandbox.add_group("教师群", members=[director, teacher])
    await sandbox.add_bot_to_group(teachers, by=director)
    await director.send("/bind teachers", chat=teachers)
    numbers = []
    for line in (
        "行政楼1楼后勤处水管爆了",
        "实验楼3楼女厕水龙头一直滴水",
        "教学楼2楼201教室灯不亮",
    ):
        await teacher.send(f"/report {line}", chat=teachers)
        found = re.search(r"BX-\d{4}-\d{3}", sandbox.last_message(teachers.id).shown_text)
        assert found is not None, sandbox.last_message(teachers.id).shown_text
        numbers.append(found.group(0))
    await electrician.send("/log")
    await electrician.send("检修行政楼配电箱")
    await electrician.press(sandbox.last_message(electrician.id), "Save")
    await director.send("/leave 周师傅 2026-11-23 2026-11-24 病假")
    stranger = sandbox.add_user("陈老师")
    await stranger.start_bot()
    await stranger.press(sandbox.last_message(stranger.id), "Ask to join as a teacher")
    walker = await person_of(services, electrician)
    weekly = services.profile.inspection_plan("weekly")
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=services.profile.tz)
    async with services.database.transaction() as session:
        last_week = await inspections.open_round(
            session, profile=services.profile, plan=weekly, occurrence=friday, now=friday
        )
        done = last_week.round
        assert done.id is not None and walker.id is not None
        for key, ok in (("lights_off", True), ("taps", False)):
            session.add(
                InspectionMark(
                    round_id=done.id, item_key=key, ok=ok, marked_by_id=walker.id, marked_at=friday
                )
            )
        done.status, done.announced_at = "completed", friday + timedelta(hours=3)
        session.add(done)
        await inspections.open_round(
            session,
            profile=services.profile,
            plan=weekly,
            occurrence=services.now(),
            now=services.now(),
        )
    clock.advance(timedelta(minutes=31))  # the urgent report is overdue (30 minutes to take)
    return School(director, electrician, fixer, guard, teacher, numbers)


async def launch_data(services: Services, user: SandboxUser, *, token: str | None = None) -> str:
    """initData as Telegram would sign it for `user` opening the cockpit now."""
    await person_of(services, user)
    return auth.launch_data(
        user.id,
        token if token is not None else services.settings.telegram_bot_token,
        now=services.now(),
        first_name=user.name,
    )


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real (decodable) PNG of a few red pixels: what a reporter's photo is here."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xd0\x30\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def report_with_photo(sandbox: BotApiSandbox, teacher: SandboxUser, image: bytes) -> str:
    """The teacher's private /report (实验楼3楼女厕, next to the seeded one) with one photo
    (these bytes); its number."""
    await teacher.send("/report")
    for step in ("水暖", "实验楼", "3楼", "女厕"):
        await teacher.press(sandbox.last_message(teacher.id), step)
    # The seeded school already has a report there: this is another problem.
    await teacher.press(sandbox.last_message(teacher.id), "No, a different problem")
    await teacher.send("洗手池下水堵了")
    await teacher.send_photo(image=image)
    await teacher.press(sandbox.last_message(teacher.id), "Done")
    await teacher.press(sandbox.last_message(teacher.id), "一般")
    await teacher.press(sandbox.last_message(teacher.id), "Submit")
    found = re.search(r"BX-\d{4}-\d{3}", sandbox.last_message(teacher.id).shown_text)
    assert found is not None, sandbox.last_message(teacher.id).shown_text
    return found.group(0)
