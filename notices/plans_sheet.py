"""The semester plan as Excel: the template (with the 示范中学's sample plan as its example rows),
reading a filled-in file, and the end-of-term summary (`houqin export plan`).

The plan sheet's columns, by position: title, category, owner (a person's name or a post),
due date, milestones ("2026-12-10 招标完成; 2027-01-08 验收" — a date and a title each,
separated by ; or new lines)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from io import BytesIO

from notices.export import Cell, Column, Sheet, workbook_bytes
from school.i18n import N_, Translate
from school.profile import SchoolProfile
from storage.plans import Entry, Row, Status

HEAD = (
    N_("Work item"),
    N_("Category"),
    N_("Owner (name or post)"),
    N_("Due date"),
    N_("Milestones (date title; …)"),
)
_MILESTONE = re.compile(r"(\d{4}-\d{1,2}-\d{1,2})\s*[:：]?\s*([^;；\n]+)")

# The 示范中学's plan for the autumn semester 2026 (a realistic example: the template's rows).
SAMPLE_ROWS: tuple[tuple[str, str, str, date, str], ...] = (
    (
        "教学楼卫生间水管改造",
        "维修改造",
        "水电工",
        date(2027, 1, 15),
        "2026-11-30 材料采购; 2026-12-20 一至三楼完工",
    ),
    ("实验楼消防设施年检与灭火器更换", "安全", "维修工", date(2026, 12, 18), "2026-12-04 报检"),
    (
        "宿舍楼热水器加装与线路增容",
        "设备添置",
        "水电工",
        date(2026, 12, 31),
        "2026-12-10 招标完成; 2026-12-24 安装调试",
    ),
    ("校园冬季绿化养护与树木防寒", "绿化", "绿化工", date(2026, 12, 11), ""),
    ("食堂燃气管道安全检查与报警器更换", "安全", "食堂炊事员", date(2026, 12, 4), ""),
    ("教室LED节能灯替换（教学楼）", "节能", "水电工", date(2027, 1, 8), "2026-12-15 东侧完成"),
    ("后勤人员消防安全培训", "培训", "后勤主任", date(2026, 12, 25), "2026-12-11 培训方案"),
)


def template_rows() -> list[list[Cell]]:
    return [list(row) for row in SAMPLE_ROWS]


def template_workbook(profile: SchoolProfile, t_: Translate) -> bytes:
    """The plan template: the plan sheet with the sample rows, and a sheet of instructions."""
    columns = [
        Column(t_(HEAD[0]), 36, wrap=True),
        Column(t_(HEAD[1]), 10),
        Column(t_(HEAD[2]), 14),
        Column(t_(HEAD[3]), 12, number_format="yyyy-mm-dd"),
        Column(t_(HEAD[4]), 44, wrap=True),
    ]
    posts = "、".join(p.name for p in profile.posts)
    notes = [
        [t_("Replace the example rows with your own; one row per work item.")],
        [t_("Categories: {categories}").format(categories="、".join(profile.plan.categories))],
        [t_("Owner: a staff member's name as registered, or a post: {posts}").format(posts=posts)],
        [t_("Milestones: a date and a title each, separated by ; (2026-12-10 招标完成)")],
        [t_("Then: houqin plan import plan.xlsx")],
    ]
    return workbook_bytes(
        [
            Sheet(t_("Semester plan"), columns, template_rows()),
            Sheet(t_("How to fill it in"), [Column(t_("Notes"), 90, wrap=True)], notes),
        ]
    )


def _day(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip().replace("/", "-"))
        except ValueError:
            return None
    return None


def milestones_of(text: str) -> list[tuple[date, str]] | None:
    """The milestones written in a cell; None when some part is not "date title"."""
    found = []
    for part in re.split(r"[;；\n]+", text):
        if not part.strip():
            continue
        match = _MILESTONE.fullmatch(part.strip())
        day = _day(match.group(1)) if match else None
        if match is None or day is None:
            return None
        found.append((day, match.group(2).strip()[:200]))
    return found


def read_rows(data: bytes) -> tuple[list[Row], list[str]]:
    """The rows of the plan sheet (the first sheet), and the problems found (row numbers as
    Excel shows them)."""
    from openpyxl import load_workbook

    book = load_workbook(BytesIO(data), data_only=True, read_only=True)
    sheet = book.worksheets[0]
    rows: list[Row] = []
    problems: list[str] = []
    for number, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        cells = [*values, None, None, None, None, None][:5]
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        title, category, owner, due_cell, stones = cells
        due = _day(due_cell)
        milestones = milestones_of(str(stones or ""))
        if not title or not category or not owner:
            problems.append(f"row {number}: the work item, category and owner are needed")
            continue
        if due is None:
            problems.append(f"row {number}: the due date {due_cell!r} is not a date")
            continue
        if milestones is None:
            problems.append(f"row {number}: milestones must read like '2026-12-10 招标完成'")
            continue
        rows.append(
            Row(
                number, str(title).strip()[:200], str(category).strip(), str(owner), due, milestones
            )
        )
    return rows, problems


# --- the end-of-term summary -----------------------------------------------------------------

SUMMARY_HEAD = (
    N_("Work item"),
    N_("Category"),
    N_("Owner"),
    N_("Due date"),
    N_("Milestones"),
    N_("Progress"),
    N_("Result"),
    N_("Done on"),
    N_("Last note"),
)
DONE_ON_TIME, DONE_LATE, NOT_DONE, IN_HAND = (
    N_("Done on time"),
    N_("Done late"),
    N_("Not done"),
    N_("In progress"),
)


def result_of(entry: Entry, today: date) -> str:
    """done on time / late / not done (past due) / in progress: an N_ id."""
    item = entry.item
    if item.done_on is not None:
        return DONE_ON_TIME if item.done_on <= item.due else DONE_LATE
    return NOT_DONE if entry.status(today) == Status.OVERDUE else IN_HAND


def summary_workbook(semester: str, found: Sequence[Entry], today: date, t_: Translate) -> bytes:
    columns = [
        Column(t_(SUMMARY_HEAD[0]), 36, wrap=True),
        Column(t_(SUMMARY_HEAD[1]), 10),
        Column(t_(SUMMARY_HEAD[2]), 12),
        Column(t_(SUMMARY_HEAD[3]), 12, number_format="yyyy-mm-dd"),
        Column(t_(SUMMARY_HEAD[4]), 40, wrap=True),
        Column(t_(SUMMARY_HEAD[5]), 8, number_format="0%"),
        Column(t_(SUMMARY_HEAD[6]), 10),
        Column(t_(SUMMARY_HEAD[7]), 12, number_format="yyyy-mm-dd"),
        Column(t_(SUMMARY_HEAD[8]), 40, wrap=True),
    ]
    rows: list[list[Cell]] = []
    for entry in found:
        item = entry.item
        stones = "; ".join(f"{m.due.isoformat()} {m.title}" for m in entry.milestones)
        rows.append(
            [
                item.title,
                item.category,
                item.owner_label,
                item.due,
                stones,
                item.percent / 100,
                t_(result_of(entry, today)),
                item.done_on,
                item.note or "",
            ]
        )
    return workbook_bytes([Sheet(semester, columns, rows)])
