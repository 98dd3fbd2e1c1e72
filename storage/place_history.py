"""Places and their repair history: one key per place however it was written, the history of
a place (/place 教学楼302), and the repeat-fault rule (N faults at one place in M days).

A place is the building key, floor and room when the report named a room of the profile
(teaching/3楼/302, whether picked with buttons or typed as 教学楼302), otherwise its typed
label without spaces, in lower case. Nothing here knows Telegram; time comes in as `now`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.places import normalize
from school.profile import SchoolProfile
from storage.models import PlaceFlag, Ticket, TicketMaterial, TicketStatus
from storage.rows import add_if_new

LABEL = "@"  # the key of a place known only by its typed label starts with this
# Tickets that were no fault of the place: withdrawn by the reporter, or not a repair job.
NOT_FAULTS = (TicketStatus.CANCELLED, TicketStatus.REJECTED)
HISTORY_LIMIT = 10


def place_key(building: str | None, floor: str | None, room: str | None, label: str) -> str:
    """The one key of a place (see the module doc)."""
    if building and room:
        return f"{building}/{floor or ''}/{room}"[:240]
    return (LABEL + normalize(label))[:240]


def key_of_ticket(ticket: Ticket) -> str:
    """The place key of a ticket as filed."""
    return place_key(ticket.building_key, ticket.floor, ticket.room, ticket.place)


def key_of_text(profile: SchoolProfile, text: str) -> str:
    """The place key of a place typed by someone (/place 教学楼302)."""
    found = profile.match_place(text)
    if found is not None and found.room is not None:
        return place_key(found.building.key, found.floor, found.room, text)
    return place_key(None, None, None, text)


@dataclass(frozen=True)
class PlaceHistory:
    """A place's tickets (newest first, at most `limit`), how many in all, their materials
    (summed by name and unit) and costs."""

    key: str
    label: str
    count: int
    tickets: list[Ticket]
    materials: list[tuple[str, str, Decimal, Decimal]]  # name, unit, quantity, cost
    cost: Decimal
    hours: Decimal


async def history(
    session: AsyncSession, key: str, *, limit: int = HISTORY_LIMIT
) -> PlaceHistory | None:
    """The repair history of the place with this key, or None when it has no ticket."""
    count = (await session.exec(select(func.count()).where(Ticket.place_key == key))).one()
    if not count:
        return None
    query = (
        select(Ticket)
        .where(Ticket.place_key == key)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    tickets = list((await session.exec(query)).all())
    lines = (
        await session.exec(
            select(TicketMaterial)
            .join(Ticket, col(Ticket.id) == TicketMaterial.ticket_id)
            .where(Ticket.place_key == key)
            .order_by(col(TicketMaterial.id))
        )
    ).all()
    summed: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in lines:
        entry = summed[(line.name, line.unit)]
        entry[0] += line.quantity
        entry[1] += line.cost
    hours_rows = (
        await session.exec(select(col(Ticket.hours)).where(Ticket.place_key == key))
    ).all()
    return PlaceHistory(
        key=key,
        label=tickets[0].place,
        count=int(count),
        tickets=tickets,
        materials=[(name, unit, q, c) for (name, unit), (q, c) in summed.items()],
        cost=sum((line.cost for line in lines), Decimal(0)),
        hours=sum((h for h in hours_rows if h is not None), Decimal(0)),
    )


async def claim_repeat_flag(
    session: AsyncSession, ticket: Ticket, *, profile: SchoolProfile, now: datetime
) -> PlaceFlag | None:
    """After `ticket` is filed: when its place has had the profile's count of faults within
    its days, all since the place was last flagged, claim one flag for them (in the caller's
    transaction) and return it; otherwise None. A place is flagged at most once per window
    (`days`), and a fault counts in one flag at most: after a flag, the place is flagged
    again only when `days` have passed and `count` new faults came within `days`."""
    rule = profile.repair.repeat_faults
    if rule.count <= 0 or not ticket.place_key:
        return None
    since = now - timedelta(days=rule.days)
    last_query = (
        select(PlaceFlag)
        .where(PlaceFlag.place_key == ticket.place_key)
        .order_by(col(PlaceFlag.ticket_id).desc())
        .limit(1)
    )
    last_flag = (await session.exec(last_query)).first()
    if last_flag is not None and last_flag.flagged_at > since:
        return None  # flagged within the window already
    last = last_flag.ticket_id if last_flag is not None else None
    query = select(Ticket.id).where(
        Ticket.place_key == ticket.place_key,
        col(Ticket.created_at) >= since,
        col(Ticket.status).not_in(NOT_FAULTS),
    )
    if last is not None:
        query = query.where(col(Ticket.id) > last)
    faults = [i for i in (await session.exec(query.order_by(col(Ticket.id)))).all() if i]
    if len(faults) < rule.count or ticket.id not in faults:
        return None
    assert ticket.id is not None
    flag = PlaceFlag(
        place_key=ticket.place_key,
        first_ticket_id=faults[0],
        ticket_id=ticket.id,
        faults=len(faults),
        flagged_at=now,
    )
    return flag if await add_if_new(session, flag) else None
