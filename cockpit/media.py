"""The cockpit's pictures: a ticket's photos and the month's repair chart, as bytes.

An `<img src>` cannot carry the `Authorization` header, so the page fetches these like the
JSON (same launch data, same role checks) and shows the blob through `URL.createObjectURL`.
A photo is addressed by its position among the ticket's photos (`/api/ticket/7/photo/0`):
nothing personal is in the URL. The bot fetches the photo from Telegram by its file_id
(`getFile`, then the download); the answer may be kept by the browser, privately only.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from telegram import Bot
from telegram.error import TelegramError

from actions import repair_report as kpis
from cockpit import views
from notices import repair_report
from notices.services import Services
from school.i18n import Translate
from storage import tickets
from storage.models import Person
from storage.stats import Month
from storage.worklogs import is_row_id

log = logging.getLogger(__name__)

PRIVATE = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
NOT_KEPT = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
PNG = b"\x89PNG\r\n\x1a\n"
MAX_PHOTOS = 1000  # a photo's position beyond this is not a photo


def image_type(data: bytes) -> str:
    """The picture's media type, from its first bytes (Telegram's photos are JPEG)."""
    if data.startswith(PNG):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def _number(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError:
        raise HTTPException(404, "not found") from None


async def photo(request: Request, person: Person) -> Response:
    """The ticket's photo number `index` (0 first), to those who may see the ticket."""
    services: Services = request.app.state.services
    ticket_id, index = _number(request, "ticket_id"), _number(request, "index")
    if not is_row_id(ticket_id) or not 0 <= index < MAX_PHOTOS:
        raise HTTPException(404, "no such photo")
    async with services.database.reading() as session:
        found = await tickets.get_ticket(session, ticket_id)
        if found is None:
            raise HTTPException(404, "no such ticket")
        if not await views.may_see_ticket(session, person, found):
            raise HTTPException(403, "not yours")
        photos = await tickets.pictures_of(session, ticket_id)
    if index >= len(photos):
        raise HTTPException(404, "no such photo")
    bot: Bot | None = getattr(request.app.state, "bot", None)
    if bot is None:
        raise HTTPException(503, "the bot is not running")
    try:
        file = await bot.get_file(photos[index])
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("cockpit: photo %s of ticket %s not fetched: %s", index, ticket_id, exc)
        raise HTTPException(502, "Telegram did not give the photo") from None
    return Response(data, media_type=image_type(data), headers=PRIVATE)


async def month_chart(services: Services, _: Translate) -> Response:
    """This month's repair tickets by category, the chart /stats sends (PNG); 204 when there
    is nothing to draw (no tickets, or no Chinese font)."""
    month = Month.of(services.local_now().date())
    figures = await kpis.month_kpis(services, month)
    png = await asyncio.to_thread(
        repair_report.chart_png,
        figures,
        month,
        services.profile,
        _,
        services.settings.chart_font_path,
    )
    if png is None:
        return Response(status_code=204, headers=NOT_KEPT)
    return Response(png, media_type="image/png", headers=PRIVATE)
