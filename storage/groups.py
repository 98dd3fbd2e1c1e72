"""Groups the bot is in, and which of them is the repair, staff, teachers' or leaders' group."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import GroupChat, GroupPurpose, Person
from storage.rows import saved


async def get_group(session: AsyncSession, chat_id: int) -> GroupChat | None:
    """The group with this Telegram chat id."""
    return (await session.exec(select(GroupChat).where(GroupChat.chat_id == chat_id))).first()


async def record_joined(
    session: AsyncSession, *, chat_id: int, title: str, now: datetime
) -> GroupChat:
    """The bot was added to a group (or re-added): remember it."""
    group = await get_group(session, chat_id)
    if group is None:
        group = GroupChat(chat_id=chat_id, title=title[:255], joined_at=now)
    group.title = title[:255]
    group.is_member = True
    group.left_at = None
    return await saved(session, group)


async def record_left(session: AsyncSession, *, chat_id: int, now: datetime) -> GroupChat | None:
    """The bot was removed from a group: its binding no longer delivers, so it is dropped."""
    group = await get_group(session, chat_id)
    if group is None:
        return None
    group.is_member = False
    group.left_at = now
    group.purpose = None
    session.add(group)
    return group


async def bind_group(
    session: AsyncSession,
    *,
    chat_id: int,
    title: str,
    purpose: GroupPurpose,
    director: Person,
    now: datetime,
) -> tuple[GroupChat, GroupChat | None]:
    """Bind a group to a purpose; returns (group, the group that held the purpose before)."""
    previous = await group_for(session, purpose)
    if previous is not None and previous.chat_id != chat_id:
        previous.purpose = None
        session.add(previous)
    else:
        previous = None
    group = await record_joined(session, chat_id=chat_id, title=title, now=now)
    group.purpose = purpose
    group.bound_by_id = director.id
    group.bound_at = now
    return await saved(session, group), previous


async def unbind_group(session: AsyncSession, *, chat_id: int) -> GroupPurpose | None:
    """Drop the group's binding; returns the purpose it had."""
    group = await get_group(session, chat_id)
    if group is None or group.purpose is None:
        return None
    purpose = GroupPurpose(group.purpose)
    group.purpose = None
    session.add(group)
    return purpose


async def group_for(session: AsyncSession, purpose: GroupPurpose) -> GroupChat | None:
    """The group bound to a purpose, if the bot is still in it."""
    query = select(GroupChat).where(
        GroupChat.purpose == purpose, col(GroupChat.is_member).is_(True)
    )
    return (await session.exec(query)).first()


async def list_groups(session: AsyncSession) -> Sequence[GroupChat]:
    """Every group the bot knows, current ones first."""
    query = select(GroupChat).order_by(col(GroupChat.is_member).desc(), col(GroupChat.id))
    return (await session.exec(query)).all()
