"""One-time links into the cockpit for a browser outside Telegram (`/cockpit pc`).

The link carries a random token; only its SHA-256 is stored. Redeeming it is one guarded
UPDATE (not used yet, not expired), so two browsers racing for the same link cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CockpitLogin

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_login(
    session: AsyncSession, *, person_id: int, now: datetime, lifetime: timedelta
) -> str:
    """A new one-time token for the person, valid for `lifetime`."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        CockpitLogin(
            token_hash=_hash(token),
            person_id=person_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def redeem_login(session: AsyncSession, token: str, *, now: datetime) -> int | None:
    """The person of a valid, unused token, which is used up; None for any other token."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    digest = _hash(token)
    claimed = await session.exec(
        update(CockpitLogin)
        .where(
            col(CockpitLogin.token_hash) == digest,
            col(CockpitLogin.used_at).is_(None),
            col(CockpitLogin.expires_at) > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        return None
    found = await session.exec(select(CockpitLogin).where(CockpitLogin.token_hash == digest))
    return found.one().person_id
