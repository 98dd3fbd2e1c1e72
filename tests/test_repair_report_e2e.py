"""End to end: /stats and the monthly repair report through the real bot and the sandbox, on
the seeded month whose numbers tests/test_ticket_kpis.py works out by hand."""

from __future__ import annotations

from datetime import timedelta

from actions.repair_report import post_month
from bot.app import build_application
from bot.lifecycle import Lifecycle, polling
from devtools.harness import running_bot, services_for_sandbox
from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from scheduler import repair_report as reporting
from scheduler.jobs import all_jobs, next_run, run_due
from school.clock import ManualClock
from storage import ticket_kpis
from storage.models import Role
from storage.stats import Month
from tests.helpers import person_of, register
from tests.repair_month import at, seed_november

MONTHLY = [reporting.MONTHLY]
# What the seeded November says, as the leaders read it (worked out in test_ticket_kpis.py).
NOVEMBER_LINES = (
    "示范中学 2026年11月 维修报告",
    "报修 8 单 · 未完成 3 单（已超时 2 单）",
    "按类别：水暖 3 · 电/照明 2 · 门窗锁 2 · 桌椅家具 1",
    "按楼宇：实验楼 3 · 教学楼 2 · 手填地点 2 · 行政楼 1",
    "接单用时中位数：紧急 30分钟 · 一般 2.0小时",
    "按时接单率：80%（接单 5 单中 4 单按时）",
    "完工用时中位数：紧急 8.0小时 · 一般 6.0天",
    "按时完工率：80%（5 单中 4 单按时）",
    "一次修好率：50%（验收 4 单中 2 单未返修）",
    "返修率：60%（返修 3 次，完工 5 单）",
    "满意度：平均 3.5★，4★及以上 50%（4 个评价）",
    "实验楼3楼女厕：3 单",
    "操场东侧 路灯：2 单",
)


async def _cast(
    sandbox: BotApiSandbox, services: Services
) -> tuple[SandboxUser, SandboxUser, SandboxGroup]:
    """The director, 李师傅 (who did November's jobs) and the leaders' group, bound."""
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    worker = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    leaders = sandbox.add_group("校领导群", members=[director, worker])
    await sandbox.add_bot_to_group(leaders, by=director)
    await director.send("/bind leaders", chat=leaders)
    return director, worker, leaders


def _posts(sandbox: BotApiSandbox, group: SandboxGroup) -> list[SentMessage]:
    """The bot's report messages in the group (not its answers to /bind)."""
    return [
        m
        for m in sandbox.messages(group.id, from_bot=True)
        if "维修报告" in m.shown_text or m.kind == "photo"
    ]


async def test_stats_shows_the_months_numbers_and_a_chart_to_the_director_and_leaders(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(at(12, 1, 9, 30))
    async with running_bot(services, sandbox):
        director, worker, leaders = await _cast(sandbox, services)
        holder = (await person_of(services, worker)).id
        assert holder is not None
        await seed_november(services.database, holder)

        await director.send("/stats 2026-11")
        answer = [m for m in sandbox.messages(director.id, from_bot=True)][-2:]
        assert [m.kind for m in answer] == ["text", "photo"]
        for line in NOVEMBER_LINES:
            assert line in answer[0].shown_text, (line, answer[0].shown_text)
        assert "2026年11月" in answer[1].shown_text  # the chart's caption

        # Without a month: last month (it is 1 December).
        await director.send("/stats")
        assert "报修 8 单" in sandbox.messages(director.id, from_bot=True)[-2].shown_text

        # Staff may not; in the leaders' group anyone there may.
        await worker.send("/stats 2026-11")
        assert "只有后勤主任" in sandbox.last_message(worker.id).shown_text
        await worker.send("/stats 2026-11", chat=leaders)
        posted = sandbox.messages(leaders.id, from_bot=True)[-2:]
        assert [m.kind for m in posted] == ["text", "photo"]
        assert "按时完工率：80%" in posted[0].shown_text

        # A month not begun, or not a month.
        await director.send("/stats 2027-05")
        assert "哪个月" in sandbox.last_message(director.id).shown_text
        await director.send("/stats 十一月")
        assert "哪个月" in sandbox.last_message(director.id).shown_text


def test_the_report_day_is_the_profiles_next_working_day(services: Services) -> None:
    job = next(j for j in all_jobs(services) if j.name == reporting.MONTHLY)
    # Day 1 at 09:30; 1 November 2026 is a Sunday: Monday 2 November.
    assert next_run(job, at(10, 20)) == at(11, 2, 9, 30)
    assert next_run(job, at(11, 2, 10)) == at(12, 1, 9, 30)  # Tuesday 1 December


async def test_the_monthly_report_goes_out_once_across_restarts_and_is_caught_up(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(at(11, 20, 9))
    async with running_bot(services, sandbox):
        _director, worker, leaders = await _cast(sandbox, services)
        holder = (await person_of(services, worker)).id
        assert holder is not None
        await seed_november(services.database, holder)
    # The bot is down from 20 November to 3 December 10:00 (report day: Tue 1 December 09:30).
    clock.set(at(12, 3, 10))
    async with running_bot(services, sandbox) as application:
        assert await run_due(application, names=MONTHLY) == MONTHLY
        await sandbox.settle()
        posted = _posts(sandbox, leaders)
        assert [m.kind for m in posted] == ["text", "photo"]
        for line in NOVEMBER_LINES:
            assert line in posted[0].shown_text, (line, posted[0].shown_text)
    # Restarted: the same occurrence does not run again; the next days' firings post nothing.
    async with running_bot(services, sandbox) as application:
        assert await run_due(application, names=MONTHLY) == []
        for _day in range(3):
            clock.advance(timedelta(days=1))
            await run_due(application, names=MONTHLY)
        # even a firing that was never claimed finds the month reported
        running = application.bot_data.services
        assert running is not None
        await post_month(application.bot, running, Month(2026, 11))
        await sandbox.settle()
        assert len(_posts(sandbox, leaders)) == 2
    async with services.database.reading() as session:
        assert await ticket_kpis.report_record(session, Month(2026, 11)) == {"chart_sent": True}


async def test_a_month_without_tickets_is_not_reported(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    clock.set(at(11, 2, 8))  # a new install: nothing happened in October
    async with running_bot(services, sandbox) as application:
        _director, _worker, leaders = await _cast(sandbox, services)
        clock.set(at(11, 2, 10))
        assert await run_due(application, names=MONTHLY) == MONTHLY
        await sandbox.settle()
        assert _posts(sandbox, leaders) == []
    async with services.database.reading() as session:
        assert await ticket_kpis.report_record(session, Month(2026, 10)) is None


async def test_the_start_up_catch_up_posts_a_missed_report_once(
    services: Services, clock: ManualClock, sandbox: BotApiSandbox
) -> None:
    """As `houqin run` starts: the lifecycle takes updates, then catches up; twice, once."""
    clock.set(at(11, 20, 9))
    async with running_bot(services, sandbox):
        _director, worker, leaders = await _cast(sandbox, services)
        holder = (await person_of(services, worker)).id
        assert holder is not None
        await seed_november(services.database, holder)
    clock.set(at(12, 2, 11))  # down over the report day, 1 December 09:30
    caught_up = []
    for _start in range(2):
        lifecycle = Lifecycle(build_application(services_for_sandbox(services, sandbox)))
        try:
            await lifecycle.start(polling(timeout=1))
            caught_up.append(reporting.MONTHLY in await lifecycle.caught_up())
            await sandbox.settle()
        finally:
            await lifecycle.stop()
    assert caught_up == [True, False]
    posted = _posts(sandbox, leaders)
    assert [m.kind for m in posted] == ["text", "photo"]
    assert NOVEMBER_LINES[1] in posted[0].shown_text
