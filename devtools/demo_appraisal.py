"""Demo scenes of the appraisal (考评): the director's scores, then the month's ranking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time
from typing import TYPE_CHECKING

from scheduler import appraisal as publishing
from scheduler import jobs as schedule
from storage import people, worklogs
from storage.models import WorkLog
from storage.stats import Month

if TYPE_CHECKING:
    from devtools.demo import School

DEMO_SCORES = ("90", "95", "85")


def _month(school: School) -> Month:
    return Month.of(school.clock.now().astimezone(school.services.profile.tz).date())


async def _run_jobs(school: School, *names: str) -> list[str]:
    """Run due scheduled jobs as the scheduler does, on the demo's running bot."""
    assert school.application is not None
    ran = await schedule.run_due(school.application, names=list(names))
    await school.sandbox.settle()
    return ran


async def scene_director_scores(school: School) -> None:
    """The director walks the staff giving the 领导评价, adds a bonus; 李师傅 checks his score."""
    director = school.people["director"]
    month = _month(school)
    await director.send(f"/rate {month}")
    for score in DEMO_SCORES:
        message = school.sandbox.last_message(director.private_chat_id)
        if not message.buttons:
            break
        await director.press(message, score)
    await director.send(f"/bonus 李师傅 +2 {month} 暴雨夜及时抢修实验楼水泵")
    await school.people["plumber"].send(f"/myscore {month}")


async def _fill_month_logs(school: School, month: Month) -> int:
    """Demo data: the rest of the month's work logs (李 every day, 陈 one missed, 周 two late)."""
    services = school.services
    profile = services.profile
    pattern = {"plumber": (0, 0), "cleaner": (1, 0), "guard": (0, 2)}  # (missed, late)
    added = 0
    async with services.database.transaction() as session:
        for key, (missed, late) in pattern.items():
            person = await people.get_person_by_telegram_id(session, school.people[key].id)
            if person is None or person.id is None:
                continue
            joined = person.created_at.astimezone(profile.tz).date()
            days = profile.calendar.working_days(max(joined, month.first_day), month.last_day)
            if not days:
                continue
            mine = await worklogs.logs_between(session, days[0], days[-1], person_ids=[person.id])
            filed = {log.day for log in mine}
            for index, day in enumerate(days[missed:]):
                if day in filed:
                    continue
                session.add(
                    WorkLog(
                        person_id=person.id,
                        day=day,
                        items=["日常岗位工作"],
                        late=index < late,
                        filed_at=datetime.combine(day, time(17, 30), tzinfo=profile.tz),
                        updated_at=datetime.combine(day, time(17, 30), tzinfo=profile.tz),
                    )
                )
                added += 1
    return added


async def scene_monthly_ranking(school: School) -> None:
    """The publication day, 09:00: the month's ranking, grades, 服务标兵 and chart in 后勤群."""
    profile = school.services.profile
    month = _month(school)
    added = await _fill_month_logs(school, month)
    school.say(
        f"（演示数据：补入本月其余工作日的 {added} 条工作日志，陈阿姨漏填一天，周师傅两天补交）"
    )
    following = month.next()
    day = publishing.publication_day(
        profile, following.year, following.month, profile.appraisal.publish.monthly_day
    )
    school.clock.set(datetime.combine(day, profile.appraisal.publish.time, tzinfo=profile.tz))
    school.say(
        f"{day:%m-%d} {time.strftime(profile.appraisal.publish.time, '%H:%M')} 公布{month}考评"
    )
    await _run_jobs(school, publishing.MONTHLY)


SCENES: list[tuple[str, Callable[[School], Awaitable[None]]]] = [
    ("主任打领导评价分、奖励加分，员工查看本月得分", scene_director_scores),
    ("月初自动公布上月考评：排名、等级、服务标兵和得分图", scene_monthly_ranking),
]
