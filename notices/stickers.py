"""QR stickers per place (扫码报修): issuing the tokens and printing them as A4 sheets of labels.

Each label carries the school's name, the place (or the equipment at the place), "扫码报修 /
scan to report" and a QR code of the deep link ``https://t.me/<bot>?start=<token>``; scanning
it opens the report form already at that place (handlers/sticker_scan.py). The PDF is drawn
with reportlab (its built-in CID font STSong-Light for the Chinese text, so no font file is
needed) and the codes made with segno (a tenth of the time of reportlab's own QR widget); both
are imported when a sheet is drawn, not with the bot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from notices.render import deep_link
from school.profile import SchoolProfile
from school.sticker_places import StickerPlace, sticker_places
from storage import stickers

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

PDF_MIME = "application/pdf"
CAPTION = "扫码报修 / scan to report"
# The sheet: A4 (210 × 297 mm), 2 columns × 4 rows of 95 × 68 mm labels.
COLUMNS, ROWS = 2, 4
MARGIN_MM, LABEL_W_MM, LABEL_H_MM = 10.0, 95.0, 68.0
QR_MM = 44.0
FONT = "STSong-Light"


@dataclass(frozen=True)
class Label:
    """One label: the place as printed and the link its code holds."""

    place: str
    link: str
    token: str


async def issue_labels(
    session: AsyncSession,
    profile: SchoolProfile,
    bot_username: str,
    *,
    now: datetime,
    building: str | None = None,
    campus: str | None = None,
) -> list[Label]:
    """The labels of the profile's places (narrowed by building or campus: KeyError when it
    names nothing), each with its live token, issuing the missing ones in the caller's
    transaction."""
    places: list[StickerPlace] = sticker_places(profile, building=building, campus=campus)
    issued = await stickers.issue(session, places, now=now)
    return [
        Label(place.label, deep_link(bot_username, sticker.token), sticker.token)
        for place, sticker in zip(places, issued, strict=True)
    ]


def _fit(text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to `size` at which `text` fits in `width` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > 6 and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _draw_code(canvas: Canvas, text: str, x: float, y: float, side: float) -> None:
    """A QR code of `text` (error correction M, with its quiet zone) filling a square of
    `side` points at (x, y): each row's runs of dark modules as one filled path."""
    import segno

    code = segno.make(text, error="m", micro=False)
    matrix = [list(row) for row in code.matrix]
    quiet = 4
    count = len(matrix) + 2 * quiet
    module = side / count
    path = canvas.beginPath()
    for r, row in enumerate(matrix):
        top = y + side - (r + quiet) * module
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.rect(x + (start + quiet) * module, top - module, (c - start) * module, module)
    canvas.setFillGray(0)
    canvas.drawPath(path, stroke=0, fill=1)


def sheets_pdf(school: str, labels: Sequence[Label]) -> bytes:
    """The labels as A4 sheets (8 a page), as PDF bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)  # invariant: the same input, same bytes
    canvas.setTitle(f"{school} 扫码报修")
    _, page_h = A4
    per_page = COLUMNS * ROWS
    width, height = LABEL_W_MM * mm, LABEL_H_MM * mm
    text_w = width - 8 * mm
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        x = MARGIN_MM * mm + (slot % COLUMNS) * width
        top = page_h - MARGIN_MM * mm - (slot // COLUMNS) * height
        canvas.setLineWidth(0.3)
        canvas.setDash(2, 2)
        canvas.rect(x, top - height, width, height)  # cut line
        canvas.setDash()
        centre = x + width / 2
        canvas.setFont(FONT, _fit(school, FONT, 11, text_w))
        canvas.drawCentredString(centre, top - 7 * mm, school)
        size = _fit(label.place, FONT, 14, text_w)
        canvas.setFont(FONT, size)
        canvas.drawCentredString(centre, top - 14 * mm, label.place)
        side = QR_MM * mm
        _draw_code(canvas, label.link, centre - side / 2, top - 17 * mm - side, side)
        canvas.setFont(FONT, 10)
        canvas.drawCentredString(centre, top - height + 4 * mm, CAPTION)
    if not labels:
        canvas.setFont(FONT, 12)
        canvas.drawString(MARGIN_MM * mm, page_h - MARGIN_MM * mm - 12, school)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
