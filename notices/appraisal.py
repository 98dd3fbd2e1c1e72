"""What the appraisal (考评) tells people: the period labels, the published ranking with its
grades and 服务标兵, the chart, a person's own breakdown (/myscore), the director's /rate
prompts, and the buttons of previews, publications and the /rate walk.

Used by the handlers (previews, /myscore), the publication action and the jobs alike.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.charts import Bar, LegendEntry, bar_chart_figure, figure_png
from notices.render import button, esc, keyboard, language_of, queue_long
from notices.services import Services
from school.i18n import N_, translator
from school.profile import SchoolProfile
from storage import appraisal, groups, people
from storage.appraisal import AppraisalResult, Component, Period, PersonInfo, PersonResult
from storage.models import AppraisalSnapshot, GroupPurpose
from storage.stats import Month

log = logging.getLogger(__name__)

CHART_LIMIT = 40  # bars on one chart
QUICK_SCORES = (100, 95, 90, 85, 80, 70, 60)

Translate = Callable[[str], str]

COMPONENT_NAMES = {
    "worklog": N_("Work log"),
    "tickets": N_("Repair quality"),
    "satisfaction": N_("Satisfaction"),
    "inspection": N_("Inspections done"),
    "leader": N_("Leader's evaluation"),
    "plan": N_("Semester plan"),
}
GRADE_COLORS = ("#54A24B", "#4C78A8", "#F58518", "#E45756")


# --- buttons ---------------------------------------------------------------------------------


class AppraisalMove(enum.StrEnum):
    """What an appraisal button under /appraisal does."""

    PREVIEW = "pv"
    PUBLISH = "pub"


@dataclass(frozen=True)
class AppraisalButton(CallbackData, prefix="apr", version=2):
    """Preview a period, or publish it when its latest version is still `seen_version`."""

    move: AppraisalMove
    period: str  # 2026-10, 2026-Q4 or 2026 (checked again when pressed)
    seen_version: int  # PUBLISH: the latest version the director saw (0: never published)


@dataclass(frozen=True)
class RateButton(CallbackData, prefix="aprr", version=2):
    """A score (or skip) for one person in the director's /rate walk."""

    month: str  # 2026-10
    person_id: int
    score: int
    skip: bool


def preview_keyboard(period: Period, _: Translate) -> InlineKeyboardMarkup:
    """The button under /appraisal: preview the given (last) month."""
    label = _("Preview {period}").format(period=period_label(period, _))
    return keyboard([[button(label, AppraisalButton(AppraisalMove.PREVIEW, str(period), 0))]])


def publish_keyboard(period: Period, version: int, _: Translate) -> InlineKeyboardMarkup:
    """The button under a preview: publish, or publish a correction of `version`."""
    label = _("Publish a correction") if version else _("Publish")
    return keyboard([[button(label, AppraisalButton(AppraisalMove.PUBLISH, str(period), version))]])


# --- labels, the ranking and the chart -------------------------------------------------------


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


VETO_HATCH = "///"
VETO_EDGE = "#7F1D1D"
STAR_EDGE = "#D4A017"


def _grade_color(index: int, count: int) -> str:
    """The colour of the grade at `index` of `count` (best first): the lowest is always red."""
    if index == count - 1 and count > 1:
        return GRADE_COLORS[-1]
    return GRADE_COLORS[min(index, len(GRADE_COLORS) - 2)]


def chart_content(
    result: AppraisalResult, profile: SchoolProfile, _: Translate
) -> tuple[list[Bar], list[LegendEntry]]:
    """The chart's bars, in ranking order (a vetoed person last, whatever the score), each in
    its grade's colour with its grade written after the score, the veto (一票否决) hatched and
    the 服务标兵 outlined; and the legend that says so."""
    grades = profile.appraisal.grades
    names = [g.name for g in grades]
    veto, star = _("Safety veto"), _("Service star")
    bars = []
    for row in result.ranked[:CHART_LIMIT]:
        index = names.index(row.grade) if row.grade in names else len(names) - 1
        mark = veto if row.vetoed else star if row.star else ""
        grade = row.grade or ""
        note = _("{grade} ({mark})").format(grade=grade, mark=mark) if mark else grade
        bars.append(
            Bar(
                label=row.person.name,
                value=row.total or 0.0,
                color=_grade_color(index, len(names)),
                note=note,
                hatch=VETO_HATCH if row.vetoed else "",
                edge=VETO_EDGE if row.vetoed else STAR_EDGE if row.star else "",
            )
        )
    legend = [LegendEntry(g.name, _grade_color(i, len(grades))) for i, g in enumerate(grades)]
    if any(b.hatch for b in bars):
        legend.append(LegendEntry(veto, GRADE_COLORS[-1], hatch=VETO_HATCH, edge=VETO_EDGE))
    if any(row.star for row in result.ranked[:CHART_LIMIT]):
        legend.append(LegendEntry(star, "#FFFFFF", edge=STAR_EDGE))
    return bars, legend


def chart_title(period: Period, profile: SchoolProfile, _: Translate) -> str:
    return _("{school}: appraisal scores, {period}").format(
        school=profile.school.short_name, period=period_label(period, _)
    )


def chart_png(
    result: AppraisalResult,
    period: Period,
    profile: SchoolProfile,
    _: Translate,
    font_path: str | None = None,
) -> bytes | None:
    """The scores as a bar chart (PNG), or None without a CJK font or without anyone."""
    if not result.ranked:
        return None
    bars, legend = chart_content(result, profile, _)
    figure = bar_chart_figure(
        chart_title(period, profile, _), bars, legend=legend, xlabel=_("Score"), font_path=font_path
    )
    return figure_png(figure)


def chart_caption(period: Period, profile: SchoolProfile, _: Translate, *, correction: bool) -> str:
    """The caption of the chart posted to the staff group (HTML)."""
    caption = _("{school}: appraisal scores, {period}").format(
        school=esc(profile.school.short_name), period=esc(period_label(period, _))
    )
    if correction:
        caption += " · " + _("Correction")
    return caption


def group_language(services: Services) -> str:
    """The language of group posts (the deployment's default language)."""
    return services.settings.language.value


async def queue_publication(
    session: AsyncSession,
    services: Services,
    snapshot: AppraisalSnapshot,
    text: str,
) -> None:
    """Queue the published ranking for the staff group (or, with none bound, the directors)."""
    key = f"appraisal:{snapshot.period}:v{snapshot.version}"
    group = await groups.group_for(session, GroupPurpose.STAFF)
    if group is not None:
        await queue_long(session, services, key=f"{key}:text", chat_id=group.chat_id, text=text)
        return
    log.warning("appraisal %s published but no staff group is bound", snapshot.period)
    for director in await people.active_directors(session):
        t_ = translator(language_of(director, group_language(services)))
        note = t_(
            "No staff group is bound (/bind staff in the group), so these results were sent "
            "to you only."
        )
        await queue_long(
            session,
            services,
            key=f"{key}:director:{director.id}",
            chat_id=director.telegram_id,
            text=f"{text}\n\n{note}",
        )


# --- a person's own breakdown (/myscore) -----------------------------------------------------


def left_out_text(code: str | None, _: Any) -> str:
    texts = {
        appraisal.NO_LOG_DAYS: _("no working day was expected (leave or holidays)"),
        appraisal.NO_FINISHED_JOBS: _("no repair job finished this month"),
        appraisal.NO_RATINGS: _("no rating from reporters this month"),
        appraisal.NO_ROUNDS: _("no inspection round assigned"),
        appraisal.NO_LEADER_SCORE: _("the director has not given a score"),
        appraisal.NO_PLAN_ITEMS: _("no plan item of yours was due this month"),
        appraisal.ZERO_WEIGHT: _("weight 0 in this school's scheme"),
    }
    return texts.get(code or "", code or "")


def inputs_text(component: Component, _: Any) -> str:
    """How a component was computed, from its inputs."""
    i = component.inputs
    if component.key == "worklog":
        text = _(
            "({on_time} on time + {late} late × {factor}) ÷ {expected} working days × 100"
        ).format(
            on_time=int(i.get("on_time", 0)),
            late=int(i.get("late", 0)),
            factor=f"{i.get('late_factor', 0):g}",
            expected=int(i.get("expected_days", 0)),
        )
        if i.get("leave_days"):
            text += _("; {days} days of leave not counted").format(days=int(i["leave_days"]))
        return text
    if component.key == "tickets":
        if "jobs" not in i:  # published before a job counted once (its own rule)
            return _(
                "100 × (0.7 × {on_time}/{finished} finished in time + 0.3 × (1 − {rework} sent "
                "back/{taken} held))"
            ).format(
                on_time=int(i.get("finished_on_time", 0)),
                finished=int(i.get("finished", 0)),
                rework=int(i.get("rework", 0)),
                taken=int(max(i.get("taken", 0), i.get("finished", 0))),
            )
        return _(
            "100 × ({on_share} × {on_time}/{jobs} jobs finished in time + {rework_share} × "
            "(1 − {rework} sent back ÷ {jobs} jobs)), at least 0"
        ).format(
            on_share=f"{appraisal.TICKET_ON_TIME_SHARE:g}",
            rework_share=f"{appraisal.TICKET_REWORK_SHARE:g}",
            on_time=int(i.get("jobs_on_time", 0)),
            jobs=int(i["jobs"]),
            rework=int(i.get("rework", 0)),
        )
    if component.key == "satisfaction":
        return _("mean rating {mean}★ of {count} ratings (1★ = 0, 5★ = 100)").format(
            mean=f"{i.get('mean_rating', 0):g}", count=int(i.get("ratings", 0))
        )
    if component.key == "inspection":
        text = _("({on_time} on time + {late} late × {factor}) ÷ {assigned} rounds × 100").format(
            on_time=int(i.get("on_time", 0)),
            late=int(i.get("late", 0)),
            factor=f"{appraisal.INSPECTION_LATE_FACTOR:g}",
            assigned=int(i.get("assigned", 0)),
        )
        if i.get("unmarked"):
            text += _(
                "; in {count} of them you marked no item (others walked it): no credit"
            ).format(count=int(i["unmarked"]))
        return text
    if component.key == "plan":
        return _(
            "({on_time} on time + {late} late × {factor}) ÷ {due} plan items due × 100"
        ).format(
            on_time=int(i.get("on_time", 0)),
            late=int(i.get("late", 0)),
            factor=f"{appraisal.PLAN_LATE_FACTOR:g}",
            due=int(i.get("due", 0)),
        )
    return _("the director's score")


def breakdown_text(
    row: PersonResult,
    result: AppraisalResult,
    period: Period,
    _: Any,
    *,
    version: int,
    correction: bool,
    cap_percent: float,
) -> str:
    """A person's own appraisal: every component, its inputs, the weight used, left-outs."""
    lines = [
        _("📊 <b>My appraisal, {period}</b>").format(period=esc(period_label(period, _))),
    ]
    if version == 0:
        lines.append(_("Preliminary: not published yet; figures may still change."))
    elif correction:
        lines.append(_("Correction (version {version}).").format(version=version))
    if row.total is None:
        lines.append(_("You were not appraised in this period (no data)."))
        return "\n".join(lines)
    lines.append(
        _(
            "Total {total} · {grade} · rank {rank} of {count} · pay coefficient {coefficient}"
        ).format(
            total=score_text(row.total),
            grade=esc(row.grade or ""),
            rank=row.rank,
            count=len(result.ranked),
            coefficient=f"{row.pay_coefficient:g}" if row.pay_coefficient is not None else "—",
        )
    )
    if row.star:
        lines.append(_("🏅 Service star of the month!"))
    if row.capped:
        lines.append(
            _("Your score reached the top grade, but its share (about {cap}%) was full.").format(
                cap=f"{cap_percent:g}"
            )
        )
    if period.kind != "month":
        lines.append("")
        lines.append(_("<b>Averaged from</b>"))
        for label, value in row.parts.items():
            lines.append(f"• {esc(period_label(Period.parse(label), _))}: {score_text(value)}")
        if row.vetoed:
            lines.append(_("⚠️ A safety incident in this period: lowest grade (veto)."))
        return "\n".join(lines)
    lines.append("")
    lines.append(_("<b>Components</b>"))
    for component in row.components:
        name = esc(_(COMPONENT_NAMES[component.key]))
        if component.applies:
            lines.append(
                _("• {name}: {score} points, weight {used}% (scheme {weight}%)").format(
                    name=name,
                    score=score_text(component.score),
                    used=f"{component.weight_used:.1f}".rstrip("0").rstrip("."),
                    weight=f"{component.weight:g}",
                )
            )
            lines.append(f"   {esc(inputs_text(component, _))}")
        else:
            lines.append(
                _("• {name}: left out, {reason}").format(
                    name=name, reason=esc(left_out_text(component.reason, _))
                )
            )
    left_out = [c for c in row.components if not c.applies and c.weight > 0]
    if left_out:
        lines.append(_("The weights of the others were scaled up to 100."))
    lines.append(_("Weighted score: {base}").format(base=score_text(row.base)))
    for adjustment in row.adjustments:
        lines.append(
            _("{points} points: {reason}").format(
                points=f"{adjustment.points:+g}", reason=esc(adjustment.reason)
            )
        )
    for incident in row.incidents:
        lines.append(
            _("⚠️ Safety incident on {day}: {reason}").format(
                day=incident.occurred_on.isoformat(), reason=esc(incident.reason)
            )
        )
    if row.vetoed:
        lines.append(_("A safety incident makes the month the lowest grade (veto)."))
    return "\n".join(lines)


# --- the director's /rate walk ---------------------------------------------------------------


def rate_prompt(
    person: PersonInfo,
    month: Month,
    *,
    index: int,
    count: int,
    current: float | None,
    _: Translate,
) -> tuple[str, InlineKeyboardMarkup]:
    """The walk's question about one person: the text and its score buttons."""
    lines = [
        *_rate_card(person, month, index=index, count=count, current=current, _=_),
        _("Press a score or type one from 0 to 100. Skip keeps it as it is; /cancel stops."),
    ]
    quick = [
        button(str(score), RateButton(str(month), person.id, score, False))
        for score in QUICK_SCORES
    ]
    skip = button(_("Skip"), RateButton(str(month), person.id, 0, True))
    return "\n".join(lines), keyboard([quick[:4], quick[4:], [skip]])


def _rate_card(
    person: PersonInfo, month: Month, *, index: int, count: int, current: float | None, _: Translate
) -> list[str]:
    return [
        _("Leader's evaluation, {period} · {index}/{count}").format(
            period=esc(period_label(Period.of_month(month), _)), index=index + 1, count=count
        ),
        f"<b>{esc(person.name)}</b>（{esc(person.post_name)}）",
        _("Current score: {score}").format(score=f"{current:g}")
        if current is not None
        else _("No score yet."),
    ]


def rate_answered(
    person: PersonInfo,
    month: Month,
    *,
    index: int,
    count: int,
    current: float | None,
    done: str,
    _: Translate,
) -> str:
    """The walk's question once answered: the person's score as saved (or as it was, when
    skipped) and what was done, without buttons (HTML)."""
    card = _rate_card(person, month, index=index, count=count, current=current, _=_)
    return "\n".join([*card, f"✅ {esc(done)}"])


def rate_summary(month: Month, *, saved: int, skipped: int, published: bool, _: Translate) -> str:
    """The end of the walk: how many scores were given, and what to do next."""
    text = _("Leader's scores for {period}: {saved} given, {skipped} skipped.").format(
        period=esc(period_label(Period.of_month(month), _)), saved=saved, skipped=skipped
    )
    if published:
        return (
            text
            + "\n"
            + _(
                "{period} is already published: to include the new scores, publish a correction "
                "with /appraisal publish {period}."
            ).format(period=str(month))
        )
    return (
        text
        + "\n"
        + _("Preview the results: /appraisal preview {period}").format(period=str(month))
    )
