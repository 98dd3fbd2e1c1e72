"""Database models. Every timestamp is timezone-aware (see storage.types.AwareDateTime)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import AwareDateTime


class Role(StrEnum):
    """What a person may do with the bot."""

    DIRECTOR = "director"
    STAFF = "staff"
    TEACHER = "teacher"


class GroupPurpose(StrEnum):
    """What a bound group is for."""

    REPAIR = "repair"
    STAFF = "staff"
    TEACHERS = "teachers"
    LEADERS = "leaders"


class JoinRequestStatus(StrEnum):
    """Where a stranger's request to join as a teacher stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class Person(SQLModel, table=True):
    """Someone registered with the bot: a director, a staff member or a teacher."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    name: str = Field(max_length=64)
    username: str | None = Field(default=None, max_length=64)
    role: Role = Field(sa_type=String(16))
    post_key: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8)
    active: bool = True
    reachable: bool = True
    created_at: datetime = Field(sa_type=AwareDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class Invite(SQLModel, table=True):
    """A registration code: a deep link that gives its user a role (and a post)."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    role: Role = Field(sa_type=String(16))
    post_key: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=64)
    max_uses: int = 1
    uses: int = 0
    expires_at: datetime = Field(sa_type=AwareDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(sa_type=AwareDateTime)


class JoinRequest(SQLModel, table=True):
    """A stranger's request to join as a teacher, waiting for a director."""

    __tablename__ = "join_request"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    name: str = Field(max_length=64)
    username: str | None = Field(default=None, max_length=64)
    status: JoinRequestStatus = Field(default=JoinRequestStatus.PENDING, sa_type=String(16))
    created_at: datetime = Field(sa_type=AwareDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class GroupChat(SQLModel, table=True):
    """A Telegram group the bot is (or was) a member of, and what it is bound to."""

    __tablename__ = "group_chat"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    title: str = Field(max_length=255)
    purpose: GroupPurpose | None = Field(default=None, sa_type=String(16))
    is_member: bool = True
    bound_by_id: int | None = Field(default=None, foreign_key="person.id")
    bound_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    joined_at: datetime = Field(sa_type=AwareDateTime)
    left_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class PersistedState(SQLModel, table=True):
    """python-telegram-bot's persistence: user/chat data and conversation states as JSON."""

    __tablename__ = "persisted_state"

    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    key: str = Field(max_length=128)
    data: object = Field(sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(sa_type=AwareDateTime)


class BotFact(SQLModel, table=True):
    """Small facts the running bot learns and the CLI needs (e.g. the bot's username)."""

    __tablename__ = "bot_fact"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)
