"""Database models. Every timestamp is timezone-aware (see storage.types.AwareDateTime)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import AwareDateTime, Money


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


# --- delivery and scheduling -----------------------------------------------------------------


class NotificationStatus(StrEnum):
    """Where an outgoing notification stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # Telegram refused it for good (bad request); logged
    UNREACHABLE = "unreachable"  # 403: the person blocked the bot or never started it


class Notification(SQLModel, table=True):
    """A message to send to someone other than the person acting (the outbox).

    Written in the same transaction as the change it announces, delivered afterwards with
    retries; `key` makes enqueueing idempotent, so a job that runs twice notifies once.
    """

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160, unique=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    parse_mode: str | None = Field(default="HTML", max_length=16)
    reply_markup: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    photo_file_id: str | None = Field(default=None, max_length=255)
    voice_file_id: str | None = Field(default=None, max_length=255)  # sent as a voice message
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=String(16), index=True
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=AwareDateTime)
    created_at: datetime = Field(sa_type=AwareDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    message_id: int | None = None
    error: str | None = Field(default=None, max_length=500)


class ScheduledRun(SQLModel, table=True):
    """One occurrence of a scheduled job, claimed before it runs: never twice."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "occurrence"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    occurrence: datetime = Field(sa_type=AwareDateTime)
    claimed_at: datetime = Field(sa_type=AwareDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


# --- repairs (报修) ----------------------------------------------------------------------------


class TicketStatus(StrEnum):
    """Repair ticket statuses (labels: 待接单, 已接单, 维修中, 延期, 待验收, 返修, 已完成, ...)."""

    OPEN = "open"  # 待接单: on the repair group's card, waiting to be taken or assigned
    ACCEPTED = "accepted"  # 已接单: someone holds it
    IN_PROGRESS = "in_progress"  # 维修中
    DEFERRED = "deferred"  # 延期: with a reason and a new date, told to the reporter
    AWAITING_ACCEPTANCE = "awaiting_acceptance"  # 待验收: done, the reporter confirms and rates
    REWORK = "rework"  # 返修: the reporter rejected the fix; back to the worker
    CLOSED = "closed"  # 已完成
    REJECTED = "rejected"  # 已退回: with a reason, told to the reporter
    CANCELLED = "cancelled"  # 已撤销: by the reporter, before it was taken


class Ticket(SQLModel, table=True):
    """A repair request (报修单) and where it stands."""

    __tablename__ = "ticket"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)  # BX-2611-007
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    reporter_telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    reporter_name: str = Field(max_length=64)
    category_key: str = Field(max_length=32)
    building_key: str | None = Field(default=None, max_length=32)
    floor: str | None = Field(default=None, max_length=32)
    room: str | None = Field(default=None, max_length=64)
    place: str = Field(max_length=200)  # the label shown: 实验楼3楼女厕, or typed text
    # one place however it was written (storage.places.place_key): building/floor/room or label
    place_key: str = Field(default="", max_length=240, index=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    urgency_key: str = Field(max_length=32)
    status: TicketStatus = Field(default=TicketStatus.OPEN, sa_type=String(24), index=True)
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    source: str = Field(default="report", max_length=16)  # report | inspection
    created_at: datetime = Field(sa_type=AwareDateTime)
    accept_by: datetime | None = Field(default=None, sa_type=AwareDateTime)
    finish_by: datetime | None = Field(default=None, sa_type=AwareDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    deferred_until: datetime | None = Field(default=None, sa_type=AwareDateTime)
    status_reason: str | None = Field(default=None, max_length=500)  # defer/reject/rework why
    result: str | None = Field(default=None, max_length=16)  # fixed | replaced | unfixable
    result_note: str | None = Field(default=None, max_length=1000)
    rating: int | None = None  # 1-5
    rating_comment: str | None = Field(default=None, max_length=1000)
    auto_closed: bool = False
    rework_count: int = 0
    hours: Decimal | None = Field(default=None, sa_type=Money)  # worked, summed over completions
    group_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    group_message_id: int | None = None
    last_nudge_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    overdue_reported_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    urgent_alerted_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class TicketPhoto(SQLModel, table=True):
    """A photo or voice message on a ticket, kept by Telegram file_id: `kind` report or
    completion (photos), voice or completion_voice (voice messages, with their duration)."""

    __tablename__ = "ticket_photo"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    file_id: str = Field(max_length=255)
    kind: str = Field(default="report", max_length=16)  # report | completion | voice | ...
    added_at: datetime = Field(sa_type=AwareDateTime)
    duration: int | None = None  # seconds, of a voice message


class TicketMaterial(SQLModel, table=True):
    """A material used on a job, given on 维修完成: from the profile's catalogue (`material_key`)
    or typed with its cost; amounts are exact (元)."""

    __tablename__ = "ticket_material"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="ticket_event.id")
    material_key: str | None = Field(default=None, max_length=32)
    name: str = Field(max_length=64)
    quantity: Decimal = Field(sa_type=Money)
    unit: str = Field(default="", max_length=16)
    unit_price: Decimal = Field(sa_type=Money)
    cost: Decimal = Field(sa_type=Money)
    added_by_id: int | None = Field(default=None, foreign_key="person.id")
    added_at: datetime = Field(sa_type=AwareDateTime)


class PlaceFlag(SQLModel, table=True):
    """A place flagged to the director for repeated faults (修还是换?): one per window, the
    window named by the first fault it counts."""

    __tablename__ = "place_flag"
    __table_args__ = (UniqueConstraint("place_key", "first_ticket_id"),)

    id: int | None = Field(default=None, primary_key=True)
    place_key: str = Field(max_length=240, index=True)
    first_ticket_id: int = Field(foreign_key="ticket.id")
    ticket_id: int = Field(foreign_key="ticket.id")  # the fault that reached the count
    faults: int
    flagged_at: datetime = Field(sa_type=AwareDateTime)


class TicketEvent(SQLModel, table=True):
    """Every change of a ticket: who, when, from/to status, and a note."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)  # report, take, assign, start, defer, transfer, ...
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str | None = Field(default=None, max_length=24)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = Field(sa_type=AwareDateTime)


class TicketFollower(SQLModel, table=True):
    """Someone who joined a ticket as "the same problem" and gets its updates."""

    __tablename__ = "ticket_follower"
    __table_args__ = (UniqueConstraint("ticket_id", "telegram_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    person_id: int | None = Field(default=None, foreign_key="person.id")
    name: str = Field(max_length=64)
    joined_at: datetime = Field(sa_type=AwareDateTime)


# --- work logs (工作日志) ----------------------------------------------------------------------


class WorkLog(SQLModel, table=True):
    """One staff member's log of one working day."""

    __tablename__ = "work_log"
    __table_args__ = (UniqueConstraint("person_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    day: date = Field(index=True)
    # lines written, and facts the bot knew (dicts, worded for each reader: storage.worklogs)
    items: list[str | dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    hours: float | None = None
    late: bool = False  # 补交: filed after the day's cutoff
    filed_at: datetime = Field(sa_type=AwareDateTime)
    updated_at: datetime = Field(sa_type=AwareDateTime)


class Leave(SQLModel, table=True):
    """Days a staff member is on leave (no log expected, no reminders)."""

    __tablename__ = "leave"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    start: date
    end: date
    reason: str | None = Field(default=None, max_length=200)
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(sa_type=AwareDateTime)


class PostDuties(SQLModel, table=True):
    """A staff member's own draft of their post duties (自订), approved by the director (审核)."""

    __tablename__ = "post_duties"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | approved | returned
    comment: str | None = Field(default=None, max_length=500)
    submitted_at: datetime = Field(sa_type=AwareDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")


# --- inspections (检查) ------------------------------------------------------------------------


class InspectionRound(SQLModel, table=True):
    """One opening of an inspection plan (每周小查 on a Friday, 每月联查 ...)."""

    __tablename__ = "inspection_round"
    __table_args__ = (UniqueConstraint("plan_key", "occurrence"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_key: str = Field(max_length=32)
    occurrence: datetime = Field(sa_type=AwareDateTime)  # the scheduled time it opened for
    opened_at: datetime = Field(sa_type=AwareDateTime)
    deadline_at: datetime = Field(sa_type=AwareDateTime)
    status: str = Field(default="open", max_length=16)  # open | completed | closed
    completed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    announced_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    missed_reported_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class InspectionAssignment(SQLModel, table=True):
    """An inspector of a round, and how far they got."""

    __tablename__ = "inspection_assignment"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="inspection_round.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class InspectionMark(SQLModel, table=True):
    """正常 or 异常 for one checklist item (at one place) in a round, and who marked it."""

    __tablename__ = "inspection_mark"
    __table_args__ = (UniqueConstraint("round_id", "item_key", "place_key"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="inspection_round.id", index=True)
    item_key: str = Field(max_length=32)
    place_key: str = Field(default="", max_length=64)  # building key, or "" for the whole plan
    ok: bool
    note: str | None = Field(default=None, max_length=1000)
    place_detail: str | None = Field(default=None, max_length=200)
    photo_file_id: str | None = Field(default=None, max_length=255)
    marked_by_id: int = Field(foreign_key="person.id")
    marked_at: datetime = Field(sa_type=AwareDateTime)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")


# --- appraisal (考评) --------------------------------------------------------------------------


class SafetyIncident(SQLModel, table=True):
    """A recorded safety incident caused by a person: the month is 不合格 (一票否决)."""

    __tablename__ = "safety_incident"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    occurred_on: date
    reason: str = Field(max_length=500)
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(sa_type=AwareDateTime)


class LeaderScore(SQLModel, table=True):
    """The director's score (领导评价, 0-100) for a person and month."""

    __tablename__ = "leader_score"
    __table_args__ = (UniqueConstraint("person_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    period: str = Field(max_length=8)  # 2026-10
    score: float
    given_by_id: int | None = Field(default=None, foreign_key="person.id")
    updated_at: datetime = Field(sa_type=AwareDateTime)


class ScoreAdjustment(SQLModel, table=True):
    """A signed bonus or deduction (奖/扣) with its reason."""

    __tablename__ = "score_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    period: str = Field(max_length=8)
    points: float
    reason: str = Field(max_length=500)
    given_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(sa_type=AwareDateTime)


class AppraisalSnapshot(SQLModel, table=True):
    """A frozen, published appraisal of a period with its inputs; a correction is version 2+."""

    __tablename__ = "appraisal_snapshot"
    __table_args__ = (UniqueConstraint("period", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=8)  # 2026-10, 2026-Q4, 2026
    kind: str = Field(max_length=8)  # month | quarter | year
    version: int = 1
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = Field(sa_type=AwareDateTime)
    published_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class PlaceSticker(SQLModel, table=True):
    """A printed QR sticker (扫码报修): its opaque token names a place, or a piece of equipment
    at a place, as it was when issued. A rename in the profile leaves the token as it is;
    a revoked sticker answers that it is no longer in use."""

    __tablename__ = "place_sticker"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True, index=True)
    building_key: str = Field(max_length=32, index=True)
    floor: str = Field(default="", max_length=32)  # "" when the place has no floor
    room: str = Field(default="", max_length=64)  # "" when the sticker names a floor or building
    equipment: str = Field(default="", max_length=64)  # "" for the place itself
    label: str = Field(max_length=200)  # the place's label when issued (kept after a rename)
    created_at: datetime = Field(sa_type=AwareDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


# --- the cockpit ---------------------------------------------------------------------------------


class CockpitLogin(SQLModel, table=True):
    """A one-time link that opens the cockpit outside Telegram (a PC, the office's big screen):
    only its hash is kept; it works once, within minutes."""

    __tablename__ = "cockpit_login"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = Field(sa_type=AwareDateTime)
    expires_at: datetime = Field(sa_type=AwareDateTime)
    used_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


# The tables of meeting and reception services, of saving water and power and of the semester
# plan live in modules of their own; importing them here registers them wherever the models are
# (migrations, tests).
from storage import booking_models as _booking_models  # noqa: E402, F401
from storage import energy_models as _energy_models  # noqa: E402, F401
from storage import plan_models as _plan_models  # noqa: E402, F401
from storage import update_inbox as _update_inbox  # noqa: E402, F401
