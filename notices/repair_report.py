"""The repair desk's numbers as text and one chart: /stats and the monthly repair report to
the leaders' group (definitions: README, "Repair numbers"; figures: storage.ticket_kpis)."""

from __future__ import annotations

import math
from datetime import timedelta

from notices.appraisal import period_label
from notices.charts import Bar, bar_chart_figure, figure_png
from notices.render import esc
from school.i18n import Translate
from school.profile import SchoolProfile
from storage.stats import Month
from storage.ticket_kpis import RepairKpis

TOP_LIST = 6  # categories and buildings shown by name; the rest are summed as 其他


def duration_text(span: timedelta, _: Translate) -> str:
    """A span as people read it: 35分钟, 2.5小时, 1.5天."""
    minutes = span.total_seconds() / 60
    if minutes < 60:
        return _("{n} min").format(n=f"{minutes:.0f}")
    if minutes < 48 * 60:
        return _("{n} h").format(n=f"{minutes / 60:.1f}")
    return _("{n} d").format(n=f"{minutes / 1440:.1f}")


def pct_text(value: float | None) -> str:
    """80% (whole numbers are plenty for a monthly report); — when nothing was counted."""
    return "—" if value is None else f"{value:.0f}%"


def _category_name(profile: SchoolProfile, key: str) -> str:
    try:
        return profile.category(key).name
    except KeyError:
        return key


def _building_name(profile: SchoolProfile, key: str | None, _: Translate) -> str:
    if key is None:
        return _("typed places")
    try:
        return profile.building(key).name
    except KeyError:
        return key


def _urgency_name(profile: SchoolProfile, key: str) -> str:
    try:
        return profile.urgency(key).name
    except KeyError:
        return key


def _counts(pairs: list[tuple[str, int]], _: Translate) -> str:
    shown = pairs[:TOP_LIST]
    rest = sum(n for _name, n in pairs[TOP_LIST:])
    parts = [f"{esc(name)} {n}" for name, n in shown]
    if rest:
        parts.append(_("others {n}").format(n=rest))
    return " · ".join(parts) or "—"


def _medians(kpis_medians: dict[str, timedelta], profile: SchoolProfile, _: Translate) -> str:
    order = [u.key for u in profile.repair.urgencies]
    keys = sorted(kpis_medians, key=lambda k: order.index(k) if k in order else len(order))
    parts = [f"{esc(_urgency_name(profile, k))} {duration_text(kpis_medians[k], _)}" for k in keys]
    return " · ".join(parts) or "—"


def title(month: Month, profile: SchoolProfile, _: Translate) -> str:
    """🛠 示范中学 2026年11月 维修报告."""
    return _("{school}: repair report, {month}").format(
        school=esc(profile.school.short_name), month=esc(period_label(str(month), _))
    )


def report_text(kpis: RepairKpis, month: Month, profile: SchoolProfile, _: Translate) -> str:
    """The month's numbers as HTML text (see README, "Repair numbers")."""
    lines = ["🛠 <b>" + title(month, profile, _) + "</b>"]
    lines.append(
        _("Reported: {n} · still open: {open} (overdue: {overdue})").format(
            n=kpis.reported, open=kpis.open, overdue=kpis.overdue
        )
    )
    categories = [(_category_name(profile, k), n) for k, n in kpis.by_category]
    buildings = [(_building_name(profile, k, _), n) for k, n in kpis.by_building]
    lines.append(_("By category: {list}").format(list=_counts(categories, _)))
    lines.append(_("By building: {list}").format(list=_counts(buildings, _)))
    lines.append("")
    lines.append(
        _("Median time to accept: {list}").format(list=_medians(kpis.accept_median, profile, _))
    )
    lines.append(
        _("Taken in time: {pct} ({in_time} of {taken} jobs taken)").format(
            pct=pct_text(kpis.accepted_on_time_pct),
            in_time=kpis.work.accepted_on_time,
            taken=kpis.work.taken,
        )
    )
    lines.append(
        _("Median time to finish: {list}").format(list=_medians(kpis.finish_median, profile, _))
    )
    lines.append(
        _("Finished on time: {pct} ({on_time} of {jobs} jobs)").format(
            pct=pct_text(kpis.on_time_pct), on_time=kpis.jobs_on_time, jobs=kpis.jobs
        )
    )
    lines.append(
        _("First-time fix: {pct} ({fixed} of {closed} jobs closed)").format(
            pct=pct_text(kpis.first_time_fix_pct), fixed=kpis.first_time_fixed, closed=kpis.closed
        )
    )
    lines.append(
        _("Rework: {pct} ({reworks} sent back, {jobs} jobs finished)").format(
            pct=pct_text(kpis.rework_pct), reworks=kpis.reworks, jobs=kpis.jobs
        )
    )
    if kpis.mean_rating is None:
        lines.append(_("Satisfaction: no ratings"))
    else:
        lines.append(
            _("Satisfaction: {mean}★ on average, {pct} rated 4★ or more ({n} ratings)").format(
                mean=f"{kpis.mean_rating:.1f}",
                pct=pct_text(kpis.satisfied_pct),
                n=len(kpis.ratings),
            )
        )
    lines.append(_("Total cost: ¥{cost}").format(cost=f"{kpis.total_cost:,.2f}"))
    if kpis.repeat_places:
        lines.append("")
        lines.append(_("Repeat places:"))
        lines += [
            _("  {place}: {n} tickets").format(place=esc(p.label), n=p.count)
            for p in kpis.repeat_places
        ]
    return "\n".join(lines)


def chart_png(
    kpis: RepairKpis,
    month: Month,
    profile: SchoolProfile,
    _: Translate,
    font_path: str | None = None,
) -> bytes | None:
    """Tickets by category as a bar chart (PNG); None without a CJK font or without tickets."""
    if not kpis.by_category:
        return None
    bars = [Bar(_category_name(profile, k), n) for k, n in kpis.by_category]
    figure = bar_chart_figure(
        _("Repair tickets by category, {month}").format(month=period_label(str(month), _)),
        bars,
        xlabel=_("Tickets"),
        xmax=float(5 * math.ceil(max(n for _k, n in kpis.by_category) / 5)),  # whole ticks
        font_path=font_path,
        value_format="{:.0f}",
    )
    return figure_png(figure)


def chart_caption(month: Month, profile: SchoolProfile, _: Translate) -> str:
    """The chart's caption (HTML)."""
    return title(month, profile, _)
