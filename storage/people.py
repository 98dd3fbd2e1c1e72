"""People, invites and join requests: who may use the bot and in which role."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Invite, JoinRequest, JoinRequestStatus, Person, Role
from storage.rows import saved

INVITE_CODE_BYTES = 8
DEFAULT_INVITE_LIFETIME = timedelta(days=7)


class InviteProblem(Exception):
    """An invite code cannot be used; `reason` says why ('unknown', 'expired', 'used_up', or
    'registered': the person is registered already, and a link never changes a role)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Registration:
    """The outcome of redeeming an invite."""

    person: Person
    is_new: bool


async def get_person_by_telegram_id(session: AsyncSession, telegram_id: int) -> Person | None:
    """The person with this Telegram user id, active or not."""
    result = await session.exec(select(Person).where(Person.telegram_id == telegram_id))
    return result.first()


_PEOPLE = Person.__table__  # type: ignore[attr-defined]
_BY_TELEGRAM_ID = sa_select(_PEOPLE).where(_PEOPLE.c.telegram_id == bindparam("telegram_id"))


async def person_by_telegram_id(connection: AsyncConnection, telegram_id: int) -> Person | None:
    """As `get_person_by_telegram_id`, in one plain statement on a connection, without an ORM
    session: who is behind every update (handlers.common.identify). The person comes back
    detached, like one loaded by a session that has closed."""
    row = (await connection.execute(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})).first()
    if row is None:
        return None
    person = Person(**row._mapping)
    make_transient_to_detached(person)
    return person


async def get_person(session: AsyncSession, person_id: int) -> Person | None:
    """The person with this id."""
    return await session.get(Person, person_id)


async def list_people(session: AsyncSession, *, include_inactive: bool = False) -> Sequence[Person]:
    """Everyone registered, directors first, then staff, then teachers, by name."""
    query = select(Person)
    if not include_inactive:
        query = query.where(col(Person.active).is_(True))
    people = (await session.exec(query)).all()
    order = {Role.DIRECTOR: 0, Role.STAFF: 1, Role.TEACHER: 2}
    return sorted(people, key=lambda p: (not p.active, order.get(Role(p.role), 9), p.name, p.id))


async def active_directors(session: AsyncSession) -> Sequence[Person]:
    """The active directors, who get approvals and escalations."""
    query = select(Person).where(Person.role == Role.DIRECTOR, col(Person.active).is_(True))
    return (await session.exec(query.order_by(col(Person.id)))).all()


async def create_invite(
    session: AsyncSession,
    *,
    role: Role,
    now: datetime,
    post_key: str | None = None,
    name: str | None = None,
    max_uses: int = 1,
    lifetime: timedelta = DEFAULT_INVITE_LIFETIME,
    created_by: Person | None = None,
) -> Invite:
    """Make a new invite code for a role (staff invites carry a post)."""
    if max_uses < 1:
        raise ValueError("an invite needs at least one use")
    if lifetime <= timedelta(0):
        raise ValueError("an invite must expire in the future")
    if role == Role.STAFF and not post_key:
        raise ValueError("a staff invite needs a post")
    invite = Invite(
        code=secrets.token_urlsafe(INVITE_CODE_BYTES).replace("-", "x").replace("_", "y"),
        role=role,
        post_key=post_key if role == Role.STAFF else None,
        name=name,
        max_uses=max_uses,
        expires_at=now + lifetime,
        created_by_id=created_by.id if created_by else None,
        created_at=now,
    )
    return await saved(session, invite)


async def redeem_invite(
    session: AsyncSession,
    *,
    code: str,
    telegram_id: int,
    telegram_name: str,
    username: str | None,
    now: datetime,
) -> Registration:
    """Register the Telegram user (or bring back a deactivated one) with the invite's role,
    using one of its uses. A registered, active person is refused ('registered').

    The use is counted with a conditional UPDATE, so two people racing for the last use
    cannot both get it.
    """
    invite = (await session.exec(select(Invite).where(Invite.code == code.strip()))).first()
    if invite is None:
        raise InviteProblem("unknown")
    registered = await get_person_by_telegram_id(session, telegram_id)
    if registered is not None and registered.active:
        # A registered person's role never changes by a link (the only director opening a
        # teacher's invite to check it stays the director), and the use is not spent.
        raise InviteProblem("registered")
    if invite.expires_at <= now:
        raise InviteProblem("expired")
    claimed = await session.exec(
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.uses) < col(Invite.max_uses))
        .values(uses=col(Invite.uses) + 1)
    )
    if claimed.rowcount != 1:
        raise InviteProblem("used_up")
    person = await get_person_by_telegram_id(session, telegram_id)
    is_new = person is None or not person.active
    if person is None:
        person = Person(
            telegram_id=telegram_id,
            name=(invite.name or telegram_name)[:64],
            username=username,
            role=invite.role,
            created_at=now,
        )
    person.role = Role(invite.role)
    person.post_key = invite.post_key
    person.username = username
    person.active = True
    person.reachable = True
    person.deactivated_at = None
    if invite.name:
        person.name = invite.name[:64]
    session.add(person)
    await session.flush()
    return Registration(person=person, is_new=is_new)


async def deactivate_person(session: AsyncSession, person_id: int, *, now: datetime) -> Person:
    """Switch a person off: they keep their history but can no longer use the bot."""
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    if person.active:
        person.active = False
        person.deactivated_at = now
        session.add(person)
    return person


async def set_language(session: AsyncSession, telegram_id: int, language: str) -> Person | None:
    """Remember a person's interface language."""
    person = await get_person_by_telegram_id(session, telegram_id)
    if person is not None:
        person.language = language
        session.add(person)
    return person


async def mark_unreachable(session: AsyncSession, telegram_id: int) -> None:
    """The person blocked the bot (403): stop trying to message them."""
    person = await get_person_by_telegram_id(session, telegram_id)
    if person is not None and person.reachable:
        person.reachable = False
        session.add(person)


async def mark_reachable(session: AsyncSession, telegram_id: int) -> None:
    """The person opened the private chat again: messages to them are tried again."""
    person = await get_person_by_telegram_id(session, telegram_id)
    if person is not None and not person.reachable:
        person.reachable = True
        session.add(person)


async def request_to_join(
    session: AsyncSession, *, telegram_id: int, name: str, username: str | None, now: datetime
) -> tuple[JoinRequest, bool]:
    """File a stranger's request to join as a teacher; returns (request, created).

    A second request while one is pending returns the pending one instead of a duplicate.
    """
    pending = await session.exec(
        select(JoinRequest).where(
            JoinRequest.telegram_id == telegram_id,
            JoinRequest.status == JoinRequestStatus.PENDING,
        )
    )
    existing = pending.first()
    if existing is not None:
        return existing, False
    request = JoinRequest(
        telegram_id=telegram_id, name=name[:64], username=username, created_at=now
    )
    return await saved(session, request), True


async def pending_join_requests(session: AsyncSession) -> list[JoinRequest]:
    """Requests to join waiting for a director, oldest first."""
    query = (
        select(JoinRequest)
        .where(JoinRequest.status == JoinRequestStatus.PENDING)
        .order_by(col(JoinRequest.created_at), col(JoinRequest.id))
    )
    return list((await session.exec(query)).all())


async def decide_join_request(
    session: AsyncSession, *, request_id: int, approve: bool, director: Person, now: datetime
) -> tuple[JoinRequest, Person | None, bool]:
    """Approve or decline a pending request; returns (request, person if approved, changed).

    A request that was already decided is returned unchanged (changed=False), so a second
    press of the button, or a second director, does nothing twice.
    """
    request = await session.get(JoinRequest, request_id)
    if request is None:
        raise LookupError(f"no join request {request_id}")
    if request.status != JoinRequestStatus.PENDING:
        person = await get_person_by_telegram_id(session, request.telegram_id)
        return request, person, False
    claimed = await session.exec(
        update(JoinRequest)
        .where(
            col(JoinRequest.id) == request_id,
            col(JoinRequest.status) == JoinRequestStatus.PENDING,
        )
        .values(
            status=JoinRequestStatus.APPROVED if approve else JoinRequestStatus.DECLINED,
            decided_by_id=director.id,
            decided_at=now,
        )
    )
    await session.refresh(request)
    if claimed.rowcount != 1:
        person = await get_person_by_telegram_id(session, request.telegram_id)
        return request, person, False
    person = None
    if approve:
        person = await get_person_by_telegram_id(session, request.telegram_id)
        if person is None:
            person = Person(
                telegram_id=request.telegram_id,
                name=request.name,
                username=request.username,
                role=Role.TEACHER,
                created_at=now,
            )
        elif not person.active:
            person.role = Role.TEACHER
            person.post_key = None
        person.active = True
        person.deactivated_at = None
        session.add(person)
        await session.flush()
    return request, person, True
