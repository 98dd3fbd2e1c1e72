"""`houqin demo`: a small scripted school played through the real bot and the sandbox.

No token and no network: the sandbox stands in for Telegram, a temporary SQLite file for the
database, and a manual clock for time. Each scene prints what people said and what the bot
answered (with its buttons). Feature issues add their scenes to SCENES.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cockpit.auth import launch_data
from devtools.harness import running_bot
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices.services import Services, build_services
from scheduler.jobs import run_due
from school.clock import ManualClock
from school.settings import isolated_settings
from storage import people
from storage.models import Role

DEMO_START = datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class School:
    """The demo's cast: who they are in the sandbox."""

    sandbox: BotApiSandbox
    services: Services
    clock: ManualClock
    application: HouqinApp | None = None
    people: dict[str, SandboxUser] = field(default_factory=dict)
    groups: dict[str, SandboxGroup] = field(default_factory=dict)
    printed_up_to: int = 0

    async def run_jobs(self, *names: str) -> list[str]:
        """Run the named scheduled jobs that are due at the demo clock's time."""
        assert self.application is not None
        ran = await run_due(self.application, names=list(names) or None)
        await self.sandbox.settle()
        return ran

    def flush(self) -> None:
        """Print the transcript lines not printed yet."""
        for line in self.sandbox.transcript(since=self.printed_up_to):
            print(line)
        self.printed_up_to = self.sandbox.mark()

    def say(self, line: str) -> None:
        """A narrator line, in its place in the transcript."""
        self.flush()
        print(f"   ({line})")


Scene = Callable[[School], Awaitable[None]]


def _code_from(message_text: str) -> str:
    return message_text.split("?start=", 1)[1].split()[0]


async def scene_director_invite(school: School) -> None:
    """The operator makes the first invite on the command line; the director opens it."""
    async with school.services.database.transaction() as session:
        invite = await people.create_invite(
            session, role=Role.DIRECTOR, name="张主任", now=school.clock.now()
        )
    school.flush()
    print("$ houqin invite --role director --name 张主任")
    print(f"   https://t.me/{school.sandbox.bot_username}?start={invite.code}")
    director = school.sandbox.add_user("张建国", username="zhang_director")
    school.people["director"] = director
    await director.start_bot(invite.code)


async def scene_staff_and_teachers(school: School) -> None:
    """The director invites staff from the chat; a teacher opens an invite link."""
    director = school.people["director"]
    sandbox = school.sandbox
    for key, name, post in [
        ("plumber", "李师傅", "水电工"),
        ("cleaner", "陈阿姨", "保洁员"),
        ("guard", "周师傅", "门卫"),
    ]:
        await director.send("/invite")
        await director.press(sandbox.last_message(director.private_chat_id), "后勤员工")
        await director.press(sandbox.last_message(director.private_chat_id), post)
        code = _code_from(sandbox.last_message(director.private_chat_id).shown_text)
        worker = sandbox.add_user(name)
        school.people[key] = worker
        school.say(f"张主任把链接转发给{name}")
        await worker.start_bot(code)
    await director.send("/invite")
    await director.press(sandbox.last_message(director.private_chat_id), "教师")
    code = _code_from(sandbox.last_message(director.private_chat_id).shown_text)
    teacher = sandbox.add_user("王芳")
    school.people["teacher"] = teacher
    await teacher.start_bot(code)
    await school.people["plumber"].send("/whoami")


async def scene_join_request(school: School) -> None:
    """A teacher without a link asks to join; the director approves with a button."""
    sandbox = school.sandbox
    stranger = sandbox.add_user("刘洋", username="liu_yang")
    school.people["teacher2"] = stranger
    await stranger.start_bot()
    await stranger.press(sandbox.last_message(stranger.private_chat_id), "申请以教师身份加入")
    director = school.people["director"]
    await director.press(sandbox.last_message(director.private_chat_id), "同意")


async def scene_groups(school: School) -> None:
    """The bot joins the repair group; a teacher's /bind is refused, the director's works."""
    sandbox = school.sandbox
    director, teacher = school.people["director"], school.people["teacher"]
    crew = [school.people[k] for k in ("plumber", "cleaner", "guard")]
    repair = sandbox.add_group("示范中学维修群", members=[director, teacher, *crew])
    staff = sandbox.add_group("示范中学后勤群", members=[director, *crew])
    school.groups.update(repair=repair, staff=staff)
    await sandbox.add_bot_to_group(repair, by=director)
    await teacher.send("/bind repair", chat=repair)
    await director.send("/bind repair", chat=repair)
    await sandbox.add_bot_to_group(staff, by=director)
    await director.send("/bind staff", chat=staff)


async def scene_people_and_bad_input(school: School) -> None:
    """The director lists people; a teacher tries a director command and sends a sticker."""
    await school.people["director"].send("/people")
    teacher = school.people["teacher"]
    await teacher.send("/people")
    await teacher.send_sticker()
    await teacher.send("/lang")
    await teacher.press(school.sandbox.last_message(teacher.private_chat_id), "English")
    await teacher.send("/whoami")


FOUNDATION_SCENES: list[tuple[str, Scene]] = [
    ("邀请后勤主任（命令行）", scene_director_invite),
    ("主任在聊天中邀请员工和教师", scene_staff_and_teachers),
    ("陌生教师申请加入，主任审批", scene_join_request),
    ("绑定维修群和后勤群（教师无权绑定）", scene_groups),
    ("人员列表、越权操作与无效输入", scene_people_and_bad_input),
]


def all_scenes() -> list[tuple[str, Scene]]:
    """The foundation's scenes, then each feature's, in the order a school lives them."""
    from devtools import (
        demo_appraisal,
        demo_bookings,
        demo_inspections,
        demo_tickets,
        demo_worklogs,
    )

    return [
        *FOUNDATION_SCENES,
        *demo_tickets.SCENES,
        *demo_worklogs.SCENES,
        *demo_inspections.SCENES,
        *demo_bookings.SCENES,
        *demo_appraisal.SCENES,
    ]


def demo_font() -> Path:
    """The CJK font the demo draws its chart with: a small subset of WenQuanYi Micro Hei that
    ships with the developer tools, so the chart shows on machines without a Chinese font."""
    return Path(__file__).with_name("fonts") / "wqy-microhei-subset.ttf"


DEMO_COCKPIT_URL = "https://cockpit.demo.invalid"  # Telegram would need it; a browser does not
LIGHT_THEME = '{"bg_color":"#ffffff","text_color":"#000000","hint_color":"#999999"}'


async def cockpit_address(services: Services) -> str:
    """The local cockpit as the demo's director opens it: launch data signed with the
    sandbox's token, as Telegram would put it in the address."""
    async with services.database.reading() as session:
        director = (await people.active_directors(session))[0]
    signed = launch_data(
        director.telegram_id,
        services.settings.telegram_bot_token,
        now=services.now(),
        first_name=director.name,
    )
    return (
        f"http://127.0.0.1:{services.settings.cockpit_port}/"
        f"#tgWebAppData={quote(signed)}&tgWebAppThemeParams={quote(LIGHT_THEME)}"
    )


async def serve_cockpit(services: Services, stop: asyncio.Event | None) -> None:
    """Print the cockpit's address and keep the bot (and the cockpit) up until `stop` is set,
    or Ctrl-C."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        print("== The cockpit (工作台) ==")
        print("Open this in a browser to see the director's cockpit of this school:")
        print(f"   {await cockpit_address(services)}")
        print("(signed as Telegram signs it, for 张主任; Ctrl-C ends the demo)")
        sys.stdout.flush()
        await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def run_demo(
    *, verbose: bool = False, cockpit_port: int | None = None, stop: asyncio.Event | None = None
) -> int:
    """Play every scene and print the transcript; 0 when the bot made no rejected request.

    With `cockpit_port`, the bot also serves the cockpit there, and the demo ends by printing
    its local address with a signed session and serving it until `stop` is set (or Ctrl-C).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="houqin-demo-") as tmp:
        cockpit = (
            {"cockpit_url": DEMO_COCKPIT_URL, "cockpit_port": cockpit_port}
            if cockpit_port is not None
            else {}
        )
        settings = isolated_settings(
            database_url=f"sqlite:///{Path(tmp) / 'demo.db'}",
            chart_font=demo_font(),
            **cockpit,
        )
        clock = ManualClock(DEMO_START)
        services = build_services(settings, clock=clock)
        await services.database.migrate()
        print(
            f"后勤通 Houqin demo · {services.profile.school.name} · "
            f"{DEMO_START:%Y-%m-%d %H:%M} (sandbox, temporary database)\n"
        )
        async with BotApiSandbox() as sandbox, running_bot(services, sandbox) as application:
            school = School(
                sandbox=sandbox, services=services, clock=clock, application=application
            )
            for number, (title, scene) in enumerate(all_scenes(), start=1):
                print(f"== {number}. {title} ==")
                await scene(school)
                await sandbox.settle()
                school.flush()
                print()
            rejected = list(sandbox.rejected)
            live = application.bot_data.services  # with the sandbox's token
            if cockpit_port is not None and live is not None and not rejected:
                await serve_cockpit(live, stop)
                rejected = list(sandbox.rejected)
        await services.database.dispose()
    if rejected:
        print(f"The bot sent {len(rejected)} request(s) the Bot API rejects:", file=sys.stderr)
        for method, _params, error in rejected:
            print(f"  {method}: {error}", file=sys.stderr)
        return 1
    print("demo finished: every request the bot sent was valid for the Bot API.")
    return 0
