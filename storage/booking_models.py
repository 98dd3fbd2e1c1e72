"""Tables of meeting and reception services (会务与接待): a booking and its events.

A weekly series (every Monday's 行政会) is one booking per occurrence sharing a `series`
token: each occurrence is set up, ticked, reminded and rated on its own; the director decides
a series at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, String, Text
from sqlmodel import Field, SQLModel

from storage.types import AwareDateTime


class BookingStatus(StrEnum):
    """Where a booking stands."""

    PENDING = "pending"  # 待审批: the director decides first
    ASSIGNED = "assigned"  # 已受理: the responsible staff work through the checklist
    READY = "ready"  # 已就绪: every checklist step ticked
    FINISHED = "finished"  # 待评价: it took place; the requester confirms and rates
    CLOSED = "closed"  # 已完成: confirmed and rated
    REJECTED = "rejected"  # 已驳回: with a reason the requester sees
    CANCELLED = "cancelled"  # 已撤销: by the requester


ACTIVE_STATUSES = (BookingStatus.PENDING, BookingStatus.ASSIGNED, BookingStatus.READY)
DONE_STATUSES = (BookingStatus.FINISHED, BookingStatus.CLOSED)  # it took place


class Booking(SQLModel, table=True):
    """One meeting, reception or activity the logistics office serves."""

    __tablename__ = "booking"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)  # HW-0007
    series: str = Field(max_length=32, index=True)  # shared by a weekly series' occurrences
    token: str = Field(max_length=32, index=True)  # the form's submission: filed once
    requester_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    requester_telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    requester_name: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # meeting | reception | activity
    class_key: str = Field(max_length=32)
    title: str = Field(max_length=200)
    venue_key: str = Field(max_length=32, index=True)
    starts_at: datetime = Field(sa_type=AwareDateTime, index=True)
    ends_at: datetime = Field(sa_type=AwareDateTime)
    people: int
    escorts: int = 0  # a reception's escorts (陪同), included in `people`
    meal_budget: int | None = None  # yuan per head, when a reception asks for a meal
    needs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    contact: str = Field(max_length=100)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: BookingStatus = Field(default=BookingStatus.PENDING, sa_type=String(16), index=True)
    posts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    done_steps: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    revision: int = 0  # each change adds one: a change guards on the revision it saw
    photo_file_id: str | None = Field(default=None, max_length=255)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    reason: str | None = Field(default=None, max_length=500)  # a rejection's reason
    rating: int | None = None  # 1-5
    rating_comment: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_type=AwareDateTime)
    assigned_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    ready_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class BookingEvent(SQLModel, table=True):
    """Every change of a booking: who, when, from/to status, and a note (the audit trail)."""

    __tablename__ = "booking_event"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    action: str = Field(max_length=32)  # request, approve, reject, assign, tick, finish, rate …
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = Field(sa_type=AwareDateTime)
