"""Publishing the appraisal: the monthly results, the quarter summary, the year-end ranking.

Each job fires every day of a window starting on the profile's publication day (school time);
the job publishes when the day has come (the publication day, or with ``next_working_day`` the
first working day from it) and the period is not published yet. So a period is published once
whatever the firing: the first publication stores version 1 of the period's snapshot, and later
runs only find it there. A publication missed while the bot was down goes out at start-up
(the catch-up covers the window). A correction (`/appraisal publish`) stores version N+1,
marked 更正, and posts again.

The results go to the staff group (后勤群) through the outbox; the chart image is sent right
after (the outbox carries text and known file ids only), and the snapshot records that it was
sent so that it is posted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot
from telegram.error import TelegramError

from notices import outbox
from notices.charts import Bar, bar_chart_png
from notices.render import esc, language_of, split_text
from notices.services import Services
from scheduler.jobs import JobRun, ScheduledJob
from school.i18n import N_, translator
from school.profile import SchoolProfile
from storage import appraisal, groups, people
from storage.appraisal import AppraisalResult, Period, PersonResult
from storage.models import AppraisalSnapshot, GroupPurpose, Person
from storage.stats import Month

log = logging.getLogger(__name__)

MONTHLY = "appraisal.monthly"
QUARTERLY = "appraisal.quarterly"
YEARLY = "appraisal.yearly"
WINDOW_DAYS = 10  # the job fires daily from the publication day for this many days
CATCH_UP = timedelta(days=20)
CHART_LIMIT = 40  # bars on one chart

Translate = Callable[[str], str]

COMPONENT_NAMES = {
    "worklog": N_("Work log"),
    "tickets": N_("Repair quality"),
    "satisfaction": N_("Satisfaction"),
    "inspection": N_("Inspections done"),
    "leader": N_("Leader's evaluation"),
}
GRADE_COLORS = ("#54A24B", "#4C78A8", "#F58518", "#E45756")


# --- labels ----------------------------------------------------------------------------------


def period_label(period: Period | str, _: Translate) -> str:
    """2026年10月 / 2026年第4季度 / 2026年度 (in the reader's language)."""
    value = Period.parse(period) if isinstance(period, str) else period
    if value.kind == "month":
        return _("{year}-{month}").format(year=value.year, month=f"{value.number:02d}")
    if value.kind == "quarter":
        return _("{year} Q{quarter}").format(year=value.year, quarter=value.number)
    return _("Year {year}").format(year=value.year)


def score_text(value: float | None) -> str:
    """92.5 (one decimal), or a dash."""
    return "—" if value is None else f"{value:.1f}"


def person_label(result: PersonResult) -> str:
    """李师傅（水电工）, escaped."""
    post = f"（{esc(result.person.post_name)}）" if result.person.post_name else ""
    return f"{esc(result.person.name)}{post}"


def _title(period: Period, _: Translate) -> str:
    if period.kind == "month":
        return _("📊 <b>Appraisal results, {period}</b>")
    if period.kind == "quarter":
        return _("📊 <b>Quarterly appraisal summary, {period}</b>")
    return _("🏆 <b>Year-end ranking, {period}</b>")


def ranking_text(
    result: AppraisalResult,
    period: Period,
    profile: SchoolProfile,
    _: Translate,
    *,
    correction: bool = False,
    preview: bool = False,
) -> str:
    """The published post (HTML): ranking (top N or all), grades and the 服务标兵."""
    lines = [_title(period, _).format(period=esc(period_label(period, _)))]
    lines.append(esc(profile.school.name))
    if preview:
        lines.append(_("🔎 Preview: not published. Figures may still change."))
    if correction:
        lines.append(_("⚠️ Correction: these results replace the ones published before."))
    ranked = result.ranked
    if not ranked:
        lines.append("")
        lines.append(_("Nobody was appraised in this period."))
        return "\n".join(lines)
    stars = result.stars
    if stars:
        lines.append("")
        lines.append(
            _("🏅 Service star of the month: {names}").format(
                names="、".join(
                    f"{person_label(s)} {score_text(s.total)}" + _(" points") for s in stars
                )
            )
        )
    top_n = profile.appraisal.ranking_top_n
    shown = ranked[:top_n] if top_n else ranked
    lines.append("")
    lines.append(_("<b>Ranking</b>"))
    for row in shown:
        extra = ""
        if row.vetoed:
            extra = _(" (safety veto)")
        elif row.star:
            extra = " 🏅"
        parts = ""
        if row.parts and period.kind != "month":
            parts = " · " + " ".join(
                f"{esc(_short_label(label, _))} {score_text(v)}" for label, v in row.parts.items()
            )
        lines.append(
            f"{row.rank}. {person_label(row)} {score_text(row.total)} · "
            f"{esc(row.grade or '')}{extra}{parts}"
        )
    if len(shown) < len(ranked):
        lines.append(_("… and {count} more.").format(count=len(ranked) - len(shown)))
    lines.append("")
    counts = [
        f"{esc(grade.name)} {sum(1 for r in ranked if r.grade == grade.name)}"
        for grade in profile.appraisal.grades
    ]
    lines.append(
        _("{count} appraised · {grades}").format(count=len(ranked), grades=" · ".join(counts))
    )
    if any(r.capped for r in ranked):
        lines.append(
            _("{grade} goes to about {cap}% of those appraised: {limit} of {count} here.").format(
                grade=esc(profile.appraisal.grades[0].name),
                cap=f"{profile.appraisal.excellent_cap * 100:g}",
                limit=result.excellent_limit,
                count=len(ranked),
            )
        )
    missing = [r for r in result.people if not r.scored]
    if missing:
        lines.append(
            _("Not appraised (no data): {names}").format(
                names="、".join(esc(r.person.name) for r in missing)
            )
        )
    if period.kind != "month" and result.sources:
        lines.append(
            _("Averaged over: {periods}").format(
                periods="、".join(esc(_short_label(s, _)) for s in result.sources)
            )
        )
    lines.append(
        _("Your own breakdown: send /myscore {period} to me in a private chat.").format(
            period=str(period)
        )
    )
    return "\n".join(lines)


def _short_label(label: str, _: Translate) -> str:
    try:
        return period_label(Period.parse(label), _)
    except ValueError:
        return label


def chart_png(
    result: AppraisalResult,
    period: Period,
    profile: SchoolProfile,
    _: Translate,
    font_path: str | None = None,
) -> bytes | None:
    """The scores as a bar chart (PNG), or None without a CJK font or without anyone."""
    ranked = result.ranked[:CHART_LIMIT]
    if not ranked:
        return None
    grade_names = [g.name for g in profile.appraisal.grades]
    bars = []
    for row in ranked:
        index = grade_names.index(row.grade) if row.grade in grade_names else len(grade_names) - 1
        if index == len(grade_names) - 1 and len(grade_names) > 1:
            color = GRADE_COLORS[-1]
        else:
            color = GRADE_COLORS[min(index, len(GRADE_COLORS) - 2)]
        bars.append(Bar(label=row.person.name, value=row.total or 0.0, color=color))
    title = _("{school}: appraisal scores, {period}").format(
        school=profile.school.short_name, period=period_label(period, _)
    )
    return bar_chart_png(title, bars, xlabel=_("Score"), font_path=font_path)


# --- publishing ------------------------------------------------------------------------------


@dataclass
class Publication:
    """What a publish call did."""

    period: Period
    version: int
    created: bool  # False: the period was already published (nothing new stored)
    correction: bool
    posted_to_group: bool
    chart_sent: bool
    result: AppraisalResult


class NotEnded(Exception):
    """The period has not ended yet: it cannot be published."""


def group_language(services: Services) -> str:
    """The language of group posts (the deployment's default language)."""
    return services.settings.language.value


async def publish(
    bot: Bot,
    services: Services,
    period: Period,
    *,
    correction: bool = False,
    by: Person | None = None,
) -> Publication:
    """Publish a period once (or a correction as a new version); post the text and the chart.

    Without ``correction`` an existing snapshot is left as it is (its chart is sent if it was
    not yet). With it, a new version is stored and posted, marked 更正 (the very first version
    of a period is never marked).
    """
    profile = services.profile
    today = services.local_now().date()
    if period.last_day >= today:
        raise NotEnded(str(period))
    t_ = translator(group_language(services))
    async with services.database.transaction() as session:
        latest = await appraisal.latest_snapshot(session, str(period))
        if latest is not None and not correction:
            snapshot, created = latest, False
        else:
            version = latest.version + 1 if latest is not None else 1
            inputs, result = await appraisal.compute_period(session, period, profile, today=today)
            data = {
                "inputs": inputs,
                "result": appraisal.result_to_data(result),
                "correction": version > 1,
                "published_by": by.id if by is not None else None,
                "chart_sent": False,
            }
            snapshot = await appraisal.store_snapshot(
                session, period=period, data=data, now=services.now(), version=version
            )
            created = True
            text = ranking_text(result, period, profile, t_, correction=version > 1)
            await _queue_posts(session, services, snapshot, text)
    await outbox.deliver(bot, services)
    chart_sent = await send_chart_once(bot, services, snapshot)
    async with services.database.transaction() as session:
        group = await groups.group_for(session, GroupPurpose.STAFF)
    return Publication(
        period=period,
        version=snapshot.version,
        created=created,
        correction=bool(snapshot.data.get("correction")),
        posted_to_group=group is not None,
        chart_sent=chart_sent,
        result=appraisal.snapshot_result(snapshot),
    )


async def _queue_posts(
    session: AsyncSession,
    services: Services,
    snapshot: AppraisalSnapshot,
    text: str,
) -> None:
    key = f"appraisal:{snapshot.period}:v{snapshot.version}"
    group = await groups.group_for(session, GroupPurpose.STAFF)
    if group is not None:
        for index, chunk in enumerate(split_text(text)):
            await outbox.notify(
                session, services, key=f"{key}:text:{index}", chat_id=group.chat_id, text=chunk
            )
        return
    log.warning("appraisal %s published but no staff group is bound", snapshot.period)
    for director in await people.active_directors(session):
        t_ = translator(language_of(director, group_language(services)))
        note = t_(
            "No staff group is bound (/bind staff in the group), so these results were sent "
            "to you only."
        )
        for index, chunk in enumerate(split_text(f"{text}\n\n{note}")):
            await outbox.notify(
                session,
                services,
                key=f"{key}:director:{director.id}:{index}",
                chat_id=director.telegram_id,
                text=chunk,
            )


async def send_chart_once(bot: Bot, services: Services, snapshot: AppraisalSnapshot) -> bool:
    """Post the snapshot's chart to the staff group unless it was posted; True when posted."""
    assert snapshot.id is not None
    async with services.database.transaction() as session:
        current = await session.get(AppraisalSnapshot, snapshot.id)
        group = await groups.group_for(session, GroupPurpose.STAFF)
    if current is None or current.data.get("chart_sent") or group is None:
        return bool(current is not None and current.data.get("chart_sent") is True)
    period = Period.parse(current.period)
    result = appraisal.snapshot_result(current)
    t_ = translator(group_language(services))
    png = await asyncio.to_thread(
        chart_png, result, period, services.profile, t_, services.settings.chart_font_path
    )
    if png is None:
        async with services.database.transaction() as session:
            await appraisal.update_snapshot_data(session, snapshot.id, {"chart_sent": "none"})
        return False
    caption = t_("{school}: appraisal scores, {period}").format(
        school=esc(services.profile.school.short_name), period=esc(period_label(period, t_))
    )
    if current.data.get("correction"):
        caption += " · " + t_("Correction")
    try:
        await bot.send_photo(group.chat_id, photo=png, caption=caption, parse_mode="HTML")
    except TelegramError as exc:
        log.warning("appraisal chart of %s not sent (will retry): %s", current.period, exc)
        return False
    async with services.database.transaction() as session:
        await appraisal.update_snapshot_data(session, snapshot.id, {"chart_sent": True})
    return True


# --- when ------------------------------------------------------------------------------------


def publication_day(profile: SchoolProfile, year: int, month: int, day: int) -> date:
    """The day results go out: the configured day, or the first working day from it."""
    wanted = date(year, month, day)
    if profile.appraisal.publish.next_working_day:
        return profile.calendar.next_working_day(wanted)
    return wanted


def due_period(kind: str, today: date, profile: SchoolProfile) -> Period | None:
    """The period of this kind whose publication day has come by ``today`` (this window)."""
    rule = profile.appraisal.publish
    if kind == "month":
        day = publication_day(profile, today.year, today.month, rule.monthly_day)
        return Period.of_month(Month.of(today).previous()) if day <= today else None
    if kind == "quarter":
        if today.month not in (1, 4, 7, 10):
            return None
        day = publication_day(profile, today.year, today.month, rule.quarterly_day)
        if day <= today:
            return appraisal.quarter_of(Month.of(today).previous())
        return None
    if today.month != 1:
        return None
    day = publication_day(profile, today.year, 1, rule.yearly_day)
    return Period(today.year - 1, "year") if day <= today else None


def _trigger(profile: SchoolProfile, day: int, months: str | None) -> CronTrigger:
    rule = profile.appraisal.publish
    last = min(day + WINDOW_DAYS, 31)
    return CronTrigger(
        month=months,
        day=f"{day}-{last}",
        hour=rule.time.hour,
        minute=rule.time.minute,
        timezone=profile.tz,
    )


def _runner(kind: str) -> Callable[[JobRun], Awaitable[None]]:
    async def run(job: JobRun) -> None:
        services = job.services
        today = job.occurrence.astimezone(services.profile.tz).date()
        period = due_period(kind, today, services.profile)
        if period is None:
            return
        outcome = await publish(job.application.bot, services, period)
        if outcome.created:
            log.info("published the appraisal of %s", period)

    return run


def jobs(services: Services) -> list[ScheduledJob]:
    """The monthly, quarterly and yearly publications, from the profile's publish rule."""
    profile = services.profile
    rule = profile.appraisal.publish
    return [
        ScheduledJob(
            MONTHLY,
            "Publish last month's appraisal (ranking, grades, service star, chart)",
            _trigger(profile, rule.monthly_day, None),
            _runner("month"),
            catch_up=CATCH_UP,
        ),
        ScheduledJob(
            QUARTERLY,
            "Publish the quarter's appraisal summary",
            _trigger(profile, rule.quarterly_day, "1,4,7,10"),
            _runner("quarter"),
            catch_up=CATCH_UP,
        ),
        ScheduledJob(
            YEARLY,
            "Publish the year-end ranking",
            _trigger(profile, rule.yearly_day, "1"),
            _runner("year"),
            catch_up=CATCH_UP,
        ),
    ]
