"""Excel exports (openpyxl): a generic workbook builder and the work-log ledger (工作台账).

`workbook_bytes([Sheet(...), ...])` turns rows into an .xlsx file in memory: a bold, frozen
header row, column widths, wrapped text where asked, dates and times as real Excel values.
Any feature can reuse it (the appraisal export does). `houqin export logs` writes the ledger
from the command line (`cmd_export_logs`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from notices.worklogs import item_text
from school.i18n import N_
from storage import worklogs
from storage.stats import Month

if TYPE_CHECKING:
    from school.profile import SchoolProfile

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE_LIMIT = 31
CELL_TEXT_LIMIT = 32_767
MAX_LEDGER_DAYS = 366
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")
# The control characters Excel refuses (openpyxl's ILLEGAL_CHARACTERS_RE; openpyxl itself is
# imported when a workbook is built, not with the bot).
_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

Cell = str | int | float | bool | date | datetime | None


@dataclass(frozen=True)
class Column:
    """A column: its header, width (characters), wrapping and Excel number format."""

    title: str
    width: float = 12
    wrap: bool = False
    number_format: str | None = None


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a title (made valid and unique), columns and rows of values."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]] = field(default_factory=list)


def _sheet_title(title: str, used: set[str]) -> str:
    base = _BAD_TITLE.sub("_", title).strip("'") or "Sheet"
    base = base[:SHEET_TITLE_LIMIT]
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate = base[: SHEET_TITLE_LIMIT - len(suffix)] + suffix
        n += 1
    used.add(candidate.lower())
    return candidate


def _clean(value: Cell) -> Cell:
    if isinstance(value, str):
        text: str = _ILLEGAL_CHARACTERS.sub("", value)
        if len(text) > CELL_TEXT_LIMIT:
            raise ValueError(f"a cell holds at most {CELL_TEXT_LIMIT} characters")
        return text
    return value


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx file holding the sheets (at least one sheet is written)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    used: set[str] = set()
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for sheet in sheets or [Sheet("Sheet", [])]:
        ws = book.create_sheet(_sheet_title(sheet.title, used))
        for index, column in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=1, column=index, value=column.title)
            cell.font = bold
            ws.column_dimensions[get_column_letter(index)].width = column.width
        for row_number, row in enumerate(sheet.rows, start=2):
            for index, value in enumerate(row, start=1):
                cell = ws.cell(row=row_number, column=index, value=_clean(value))
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"  # text typed by people is never a formula
                spec = sheet.columns[index - 1] if index <= len(sheet.columns) else None
                cell.alignment = wrap if spec is not None and spec.wrap else top
                if spec is not None and spec.number_format and value is not None:
                    cell.number_format = spec.number_format
        ws.freeze_panes = "A2"
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- the work-log ledger (工作台账) -------------------------------------------------------------

LEDGER_COLUMNS = (
    (N_("Date"), 12, False, "yyyy-mm-dd"),
    (N_("Name"), 10, False, None),
    (N_("Post"), 12, False, None),
    (N_("Work done"), 60, True, None),
    (N_("Photos (count)"), 8, False, None),
    (N_("Hours worked"), 8, False, "0.0"),
    (N_("Filed at"), 18, False, "yyyy-mm-dd hh:mm"),
    (N_("Status"), 10, False, None),
)
# The ledger's status column: a log filed on time or late (补交), or a day without one.
ON_TIME, LATE, ON_LEAVE, MISSING = N_("On time"), N_("Late"), N_("On leave"), N_("Missing")


def ledger_filename(start: date, end: date, t_: Callable[[str], str]) -> str:
    """工作台账_2026-11-01_2026-11-30.xlsx"""
    title = t_("Work log ledger")
    return f"{title}_{start.isoformat()}_{end.isoformat()}.xlsx"


def _months(start: date, end: date) -> list[Month]:
    months, month = [], Month.of(start)
    while month <= Month.of(end):
        months.append(month)
        month = month.next()
    return months


async def ledger_workbook(
    session: AsyncSession,
    profile: SchoolProfile,
    start: date,
    end: date,
    t_: Callable[[str], str],
    *,
    now: datetime,
) -> tuple[bytes, int]:
    """The ledger of start..end as .xlsx bytes: one sheet per month, one row per log filed,
    and one per working day a staff member filed none (on leave, or missing). Returns the
    bytes and how many logs it lists."""
    entries = await worklogs.ledger_entries(session, start, end, profile, now=now)
    columns = [Column(t_(title), width, wrap, fmt) for title, width, wrap, fmt in LEDGER_COLUMNS]
    by_month: dict[Month, list[list[Cell]]] = {m: [] for m in _months(start, end)}
    for entry in entries:
        post = _post_name(profile, entry.person.post_key)
        log = entry.log
        if log is None:
            status = t_(ON_LEAVE if entry.on_leave else MISSING)
            row: list[Cell] = [entry.day, entry.person.name, post, None, None, None, None, status]
        else:
            filed_at = log.filed_at.astimezone(profile.tz).replace(
                tzinfo=None, second=0, microsecond=0
            )
            items = "\n".join(item_text(item, profile, t_) for item in log.items)
            photos = len(log.photos)
            status = t_(LATE if log.late else ON_TIME)
            row = [log.day, entry.person.name, post, items, photos, log.hours, filed_at, status]
        by_month[Month.of(entry.day)].append(row)
    sheets = [Sheet(str(month), columns, rows) for month, rows in by_month.items()]
    return workbook_bytes(sheets), sum(1 for entry in entries if entry.log is not None)


def _post_name(profile: SchoolProfile, post_key: str | None) -> str:
    if not post_key:
        return ""
    try:
        return profile.post(post_key).name
    except KeyError:
        return post_key
