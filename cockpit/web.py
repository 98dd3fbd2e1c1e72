"""The cockpit's web application (Starlette): the page, its assets and the JSON API.

The page and its assets are public (there is nothing in them); every API request must carry
Telegram's signed launch data, `Authorization: tma <initData>` (see `cockpit.auth`), and the
person behind it is looked up and their role checked for every piece of data: 401 without
valid launch data (missing, forged, expired, another bot's), 403 for a person who may not see
what they asked for. Nothing personal is ever put in a URL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from telegram import Bot

from cockpit import auth, media, reporter, views
from notices.services import Services
from school.i18n import translator
from storage import cockpit_logins, people, tickets
from storage.models import Person, Role
from storage.worklogs import is_row_id

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# The page loads nothing from elsewhere (no CDN: the school may be offline from the internet).
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class Caller:
    """The person behind a request and their translator."""

    def __init__(self, person: Person, services: Services) -> None:
        self.person = person
        self.language = person.language or services.settings.language.value
        self._ = translator(self.language)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def caller(request: Request) -> Caller:
    """The person behind the request (401 or 403 otherwise): Telegram's launch data
    (`tma <initData>`), or a session from a one-time link (`session <token>`)."""
    services = _services(request)
    token = services.settings.telegram_bot_token
    header = request.headers.get("authorization", "")
    scheme, _space, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() not in ("tma", "session") or not credentials:
        raise HTTPException(401, "launch data required")
    try:
        if scheme.lower() == "tma":
            max_age = timedelta(hours=services.settings.cockpit_max_age_hours)
            user = auth.validate(credentials, token, now=services.now(), max_age=max_age)
            person_id, telegram_id = None, user.telegram_id
        else:
            person_id = auth.validate_session(credentials, token, now=services.now())
            telegram_id = None
    except auth.InvalidInitData as exc:
        log.info("cockpit: refused credentials (%s)", exc)
        raise HTTPException(401, "invalid launch data") from None
    async with services.database.reading() as session:
        if telegram_id is not None:
            person = await people.get_person_by_telegram_id(session, telegram_id)
        else:
            assert person_id is not None
            person = await people.get_person(session, person_id) if is_row_id(person_id) else None
    if not views.has_cockpit(person):
        raise HTTPException(403, "not registered")
    assert person is not None
    return Caller(person, services)


async def login(request: Request) -> Response:
    """POST {"token": …} from a one-time link: a session, once (401 for a used, expired or
    unknown link)."""
    services = _services(request)
    try:
        body = await request.json()
        token = str(body.get("token", "")) if isinstance(body, dict) else ""
    except ValueError:
        token = ""
    async with services.database.transaction() as session:
        person_id = await cockpit_logins.redeem_login(session, token, now=services.now())
        person = await people.get_person(session, person_id) if person_id is not None else None
    if person is None or not views.has_cockpit(person):
        raise HTTPException(401, "this link is used up or expired")
    assert person.id is not None
    ends = services.now() + timedelta(hours=services.settings.cockpit_session_hours)
    token = auth.session_token(person.id, services.settings.telegram_bot_token, ends=ends)
    return _json({"session": token, "ends": ends.isoformat()})


def _json(data: object) -> JSONResponse:
    return JSONResponse(data, headers=NO_STORE)


async def me(request: Request) -> Response:
    """Who is looking, in which language, and the page's headings."""
    who = await caller(request)
    person = who.person
    return _json(
        {
            "id": person.id,
            "name": person.name,
            "role": str(person.role),
            "language": who.language,
            "labels": views.labels(who._),
        }
    )


async def view(request: Request) -> Response:
    """The person's first page: the director's Today, staff's or a teacher's own page."""
    who = await caller(request)
    return _json(await views.own_view(_services(request), who.person, who._))


async def today(request: Request) -> Response:
    """The director's Today board (403 for anyone else)."""
    who = await caller(request)
    if who.person.role != Role.DIRECTOR:
        raise HTTPException(403, "for the director")
    return _json(await views.today(_services(request), who._))


async def month(request: Request) -> Response:
    """The director's month so far (403 for anyone else)."""
    who = await caller(request)
    if who.person.role != Role.DIRECTOR:
        raise HTTPException(403, "for the director")
    return _json(await views.month(_services(request), who._))


async def month_chart(request: Request) -> Response:
    """The month's repair chart, as /stats sends it (PNG; 204 without one): the director's."""
    who = await caller(request)
    if who.person.role != Role.DIRECTOR:
        raise HTTPException(403, "for the director")
    return await media.month_chart(_services(request), who._)


async def photo(request: Request) -> Response:
    """A ticket's photo (by its position), to those who may see the ticket."""
    who = await caller(request)
    return await media.photo(request, who.person)


async def score(request: Request) -> Response:
    """A person's score this month: the director sees anyone's, staff their own only."""
    who = await caller(request)
    try:
        person_id = int(request.path_params["person_id"])
    except ValueError:
        raise HTTPException(404, "no such person") from None
    if not is_row_id(person_id):
        raise HTTPException(404, "no such person")
    if who.person.role != Role.DIRECTOR and who.person.id != person_id:
        raise HTTPException(403, "not yours")
    services = _services(request)
    async with services.database.reading() as session:
        person = await people.get_person(session, person_id)
    if person is None or person.role != Role.STAFF:
        raise HTTPException(404, "no such staff member")
    return _json(await views.score(services, person, who._))


async def ticket(request: Request) -> Response:
    """One ticket and its timeline: the crew any, a teacher their own (or followed) ones."""
    who = await caller(request)
    services = _services(request)
    try:
        ticket_id = int(request.path_params["ticket_id"])
    except ValueError:
        raise HTTPException(404, "no such ticket") from None
    if not is_row_id(ticket_id):
        raise HTTPException(404, "no such ticket")
    async with services.database.reading() as session:
        found = await tickets.get_ticket(session, ticket_id)
        if found is None:
            raise HTTPException(404, "no such ticket")
        if not await views.may_see_ticket(session, who.person, found):
            raise HTTPException(403, "not yours")
        detail = await views.ticket_detail(session, services, found, who._)
    detail["may_accept"] = reporter.may_accept(who.person.telegram_id, found)
    return _json(detail)


async def accept(request: Request) -> Response:
    """POST {"stars": 1-5}: the reporter accepts their finished job (验收)."""
    who = await caller(request)
    return await reporter.accept(request, who.person, who._)


async def rework(request: Request) -> Response:
    """POST {"reason": "…"}: the reporter asks for rework (返修)."""
    who = await caller(request)
    return await reporter.rework(request, who.person, who._)


async def page(_request: Request) -> Response:
    """The single page; what it shows comes from the API."""
    return FileResponse(
        STATIC / "index.html",
        headers={
            "Content-Security-Policy": PAGE_POLICY,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    """The cockpit's page, assets and API."""
    return [
        Route("/", page),
        Route("/api/me", me),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/view", view),
        Route("/api/today", today),
        Route("/api/month", month),
        Route("/api/month/chart", month_chart),
        Route("/api/score/{person_id}", score),
        Route("/api/ticket/{ticket_id}", ticket),
        Route("/api/ticket/{ticket_id}/photo/{index}", photo),
        Route("/api/ticket/{ticket_id}/accept", accept, methods=["POST"]),
        Route("/api/ticket/{ticket_id}/rework", rework, methods=["POST"]),
        Mount("/assets", StaticFiles(directory=STATIC), name="assets"),
    ]


def build_app(
    services: Services,
    *,
    bot: Bot | None = None,
    extra: Sequence[BaseRoute] = (),
    cockpit: bool = True,
) -> Starlette:
    """The web application for these services (settings, database, clock, profile): the
    cockpit's routes (unless `cockpit` is False) and any `extra` ones (the webhook); `bot`
    delivers what a reporter's 验收 or 返修 announces (without it they answer 503)."""
    app = Starlette(
        routes=[*extra, *(routes() if cockpit else [])],
        middleware=[Middleware(GZipMiddleware, minimum_size=500)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.services = services
    app.state.bot = bot
    return app
