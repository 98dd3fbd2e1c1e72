"""The reporter's moves from the cockpit: 验收 with 1-5 stars, or 返修 with a reason.

The same use cases as the chat's buttons (`actions.tickets.accept`, `with_reason` with
`Move.REWORK`), so the holder hears it, the crew's card is edited and the notices go through
the outbox exactly as from the chat. The server checks that the caller reported the ticket
(403 otherwise); a ticket no longer waiting for acceptance (a second press, a stale page)
answers 409 with its status now, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import Bot

from actions import tickets as act
from notices import tickets as told
from notices.services import Services
from school.i18n import Translate
from storage import tickets
from storage.models import Person, Ticket
from storage.ticket_flow import AWAITING, Actor, Move
from storage.ticket_moves import MAX_REASON
from storage.worklogs import is_row_id

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
STARS = range(1, 6)


def may_accept(person_telegram_id: int | None, ticket: Ticket) -> bool:
    """Whether the page offers 验收/返修: the reporter's finished job waiting for them."""
    return (
        person_telegram_id is not None
        and ticket.reporter_telegram_id == person_telegram_id
        and ticket.status in AWAITING
    )


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "a JSON object is expected") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "a JSON object is expected")
    return body


def _conflict(ticket: Ticket, _: Translate) -> Response:
    """The ticket is not waiting for acceptance (any more): say where it is."""
    status = told.status_label(ticket.status, _)
    return JSONResponse(
        {
            "error": "not waiting for acceptance",
            "status": status,
            "message": _("Nothing changed: {number} is now {status}.").format(
                number=ticket.number, status=status
            ),
        },
        status_code=409,
        headers=NO_STORE,
    )


async def _reported(request: Request, person: Person) -> tuple[Services, Bot, Ticket]:
    """The ticket the caller reported (404 unknown, 403 someone else's)."""
    services: Services = request.app.state.services
    bot: Bot | None = getattr(request.app.state, "bot", None)
    if bot is None:
        raise HTTPException(503, "the bot is not running")
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
    if person.telegram_id is None or found.reporter_telegram_id != person.telegram_id:
        raise HTTPException(403, "not your report")
    return services, bot, found


def _done(change: act.Change, _: Translate) -> Response:
    ticket = change.ticket
    if not change.changed:
        return _conflict(ticket, _)
    status = told.status_label(ticket.status, _)
    return JSONResponse(
        {"id": ticket.id, "number": ticket.number, "status": status}, headers=NO_STORE
    )


async def accept(request: Request, person: Person, _: Translate) -> Response:
    """POST {"stars": 1-5}: 确认验收."""
    services, bot, ticket = await _reported(request, person)
    stars = (await _body(request)).get("stars")
    if not isinstance(stars, int) or isinstance(stars, bool) or stars not in STARS:
        raise HTTPException(400, "stars: 1 to 5")
    if ticket.status not in AWAITING:
        return _conflict(ticket, _)
    assert ticket.id is not None
    actor = Actor.of(person, services.profile)
    try:
        change = await act.accept(bot, services, ticket.id, actor, stars)
    except act.NotAllowed:
        return _conflict(await _now(services, ticket), _)
    return _done(change, _)


async def rework(request: Request, person: Person, _: Translate) -> Response:
    """POST {"reason": "…"}: 返修, the job goes back to its worker with what is still wrong."""
    services, bot, ticket = await _reported(request, person)
    reason = (await _body(request)).get("reason")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        raise HTTPException(400, f"reason: 1 to {MAX_REASON} characters")
    if ticket.status not in AWAITING:
        return _conflict(ticket, _)
    assert ticket.id is not None
    actor = Actor.of(person, services.profile)
    try:
        change = await act.with_reason(bot, services, ticket.id, Move.REWORK, actor, reason)
    except act.NotAllowed:
        return _conflict(await _now(services, ticket), _)
    return _done(change, _)


async def _now(services: Services, ticket: Ticket) -> Ticket:
    assert ticket.id is not None
    return await act.get(services, ticket.id) or ticket
