"""The appraisal as Excel for performance pay (绩效工资): `/export 2026-10` and the command line.

Three sheets: the month (every component, total, grade, rank, pay coefficient), the quarter to
date and the year to date. A published month is read from its latest snapshot (what everybody
saw); an unpublished one is computed now and its sheet title says so. Quarter and year average
the published months up to the month (plus the month itself when it is not published yet).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from notices.appraisal import COMPONENT_NAMES, period_label
from notices.export import XLSX_MIME, Cell, Column, Sheet, workbook_bytes
from school.profile import SchoolProfile
from storage import appraisal
from storage.appraisal import AppraisalResult, Period, PersonResult
from storage.stats import Month

__all__ = ["XLSX_MIME", "appraisal_workbook", "export_filename"]

Translate = Callable[[str], str]
SCORE = "0.0"


def export_filename(month: Month, _: Translate) -> str:
    """考评_2026-10.xlsx"""
    name = _("Appraisal")
    return f"{name}_{month}.xlsx"


def _left_out(row: PersonResult, _: Translate) -> str:
    names = [_(COMPONENT_NAMES[c.key]) for c in row.components if not c.applies]
    notes = []
    if names:
        notes.append(_("Left out: {names}").format(names="、".join(names)))
    for adjustment in row.adjustments:
        notes.append(f"{adjustment.points:+g} {adjustment.reason}")
    for incident in row.incidents:
        notes.append(
            _("Safety incident {day}: {reason}").format(
                day=incident.occurred_on.isoformat(), reason=incident.reason
            )
        )
    if row.capped:
        notes.append(_("Top grade cap reached"))
    return "\n".join(notes)


def month_sheet(result: AppraisalResult, title: str, _: Translate) -> Sheet:
    """One row per appraised person, ranked, then those not appraised."""
    keys = list(appraisal.COMPONENTS)
    if any(c.key == "plan" for row in result.people for c in row.components):
        keys.append("plan")  # the plan counts in this school
    columns = [
        Column(_("Rank"), 6),
        Column(_("Name"), 10),
        Column(_("Post"), 10),
        *[Column(_(COMPONENT_NAMES[key]), 10, number_format=SCORE) for key in keys],
        Column(_("Weighted score"), 10, number_format=SCORE),
        Column(_("Bonus/deduction"), 10, number_format="+0.0;-0.0;0"),
        Column(_("Total"), 8, number_format=SCORE),
        Column(_("Grade"), 8),
        Column(_("Pay coefficient"), 8, number_format="0.00"),
        Column(_("Service star"), 8),
        Column(_("Notes"), 40, wrap=True),
    ]
    rows: list[list[Cell]] = []
    for row in result.people:
        scores = {
            c.key: round(c.score, 2) if c.applies and c.score is not None else None
            for c in row.components
        }
        rows.append(
            [
                row.rank,
                row.person.name,
                row.person.post_name,
                *[scores.get(key) for key in keys],
                row.base,
                sum(a.points for a in row.adjustments) if row.adjustments else None,
                row.total,
                row.grade or _("Not appraised"),
                row.pay_coefficient,
                "★" if row.star else "",
                _left_out(row, _),
            ]
        )
    return Sheet(title, columns, rows)


def summary_sheet(result: AppraisalResult, title: str, _: Translate) -> Sheet:
    """Quarter or year: the parts averaged, the mean, grade, rank and pay coefficient."""
    parts = result.sources
    columns = [
        Column(_("Rank"), 6),
        Column(_("Name"), 10),
        Column(_("Post"), 10),
        *[Column(period_label(Period.parse(p), _), 12, number_format=SCORE) for p in parts],
        Column(_("Mean"), 8, number_format=SCORE),
        Column(_("Grade"), 8),
        Column(_("Pay coefficient"), 8, number_format="0.00"),
    ]
    rows: list[list[Cell]] = [
        [
            row.rank,
            row.person.name,
            row.person.post_name,
            *[row.parts.get(p) for p in parts],
            row.total,
            row.grade,
            row.pay_coefficient,
        ]
        for row in result.people
    ]
    return Sheet(title, columns, rows)


async def appraisal_workbook(
    session: AsyncSession,
    profile: SchoolProfile,
    month: Month,
    _: Translate,
    *,
    today: date,
) -> tuple[bytes, AppraisalResult, bool]:
    """(xlsx bytes, the month's result, whether the month is published)."""
    period = Period.of_month(month)
    snapshots = await appraisal.latest_snapshots(session, [str(month)])
    published = str(month) in snapshots
    if published:
        result = appraisal.snapshot_result(snapshots[str(month)])
    else:
        _inputs, result = await appraisal.compute_month(session, month, profile, today=today)
    quarter = appraisal.quarter_of(month)
    year = Period(month.year, "year")
    _q, quarter_result = await appraisal.compute_period(
        session, quarter, profile, today=today, live_month=month, upto=month
    )
    _y, year_result = await appraisal.compute_period(
        session, year, profile, today=today, live_month=month, upto=month
    )
    month_title = period_label(period, _)
    if not published:
        month_title += " " + _("(preview)")
    upto = _("to {month}").format(month=period_label(period, _))
    sheets = [
        month_sheet(result, month_title, _),
        summary_sheet(quarter_result, f"{period_label(quarter, _)} {upto}", _),
        summary_sheet(year_result, f"{period_label(year, _)} {upto}", _),
    ]
    return workbook_bytes(sheets), result, published
