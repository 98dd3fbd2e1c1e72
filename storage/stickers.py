"""QR stickers per place (扫码报修): opaque tokens that name a place as it was when issued.

A token is issued once per place (building key, floor, room, equipment): printing the same
place again gives the same token while it is live, so a reprinted sheet matches the stickers
already on the walls. Renaming the place in the profile does not change the token (the place
is kept by key and as issued, with its printed label); revoking it retires the token for good,
and the next printing issues a new one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.sticker_places import StickerPlace
from storage.models import PlaceSticker

# Tokens are "qr-" and 16 URL-safe characters: within Telegram's 64 characters of
# A-Za-z0-9_- for a start parameter, and never an invite code (those have no "-").
TOKEN_PREFIX = "qr-"
TOKEN_PATTERN = r"qr-[A-Za-z0-9_-]{4,61}"


def new_token() -> str:
    """A fresh opaque token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(12)


async def issue(
    session: AsyncSession, spots: Sequence[StickerPlace], *, now: datetime
) -> list[PlaceSticker]:
    """The live sticker of each spot, in order: the one issued before, else a new one."""
    live = (
        await session.exec(select(PlaceSticker).where(col(PlaceSticker.revoked_at).is_(None)))
    ).all()
    by_spot = {(s.building_key, s.floor, s.room, s.equipment): s for s in live}
    stickers: list[PlaceSticker] = []
    for spot in spots:
        key = spot.spot
        sticker = by_spot.get(key)
        if sticker is None:
            sticker = PlaceSticker(
                token=new_token(),
                building_key=spot.building,
                floor=spot.floor,
                room=spot.room,
                equipment=spot.equipment,
                label=spot.label[:200],
                created_at=now,
            )
            session.add(sticker)
            by_spot[key] = sticker
        stickers.append(sticker)
    await session.flush()
    return stickers


async def find(session: AsyncSession, token: str) -> PlaceSticker | None:
    """The sticker with this token (live or revoked), or None."""
    if len(token) > 64:
        return None
    return (await session.exec(select(PlaceSticker).where(PlaceSticker.token == token))).first()


async def revoke(session: AsyncSession, token: str, *, now: datetime) -> PlaceSticker | None:
    """Retire a token; None when there is no such token (revoking twice keeps the first time)."""
    sticker = await find(session, token)
    if sticker is not None and sticker.revoked_at is None:
        sticker.revoked_at = now
        session.add(sticker)
        await session.flush()
    return sticker


async def revoke_at(
    session: AsyncSession,
    building: str,
    floor: str,
    room: str,
    *,
    equipment: str | None = None,
    now: datetime,
) -> list[PlaceSticker]:
    """Retire the live stickers of a place (with its equipment's, unless `equipment` names
    one: "" for the place's own sticker only); the ones retired."""
    query = select(PlaceSticker).where(
        PlaceSticker.building_key == building,
        PlaceSticker.floor == floor,
        PlaceSticker.room == room,
        col(PlaceSticker.revoked_at).is_(None),
    )
    if equipment is not None:
        query = query.where(PlaceSticker.equipment == equipment)
    retired = list((await session.exec(query.order_by(col(PlaceSticker.id)))).all())
    for sticker in retired:
        sticker.revoked_at = now
        session.add(sticker)
    await session.flush()
    return retired
