"""The tables of the semester work plan (学期工作计划): items, milestones, progress reports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import AwareDateTime


class PlanItem(SQLModel, table=True):
    """An item of a semester's plan: what, who answers for it, by when, how far along."""

    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("semester", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    semester: str = Field(max_length=16)  # 2026秋 / 2026-2027-1 as the school writes it
    title: str = Field(max_length=200)
    category: str = Field(max_length=32)
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    owner_post: str | None = Field(default=None, max_length=32)
    owner_label: str = Field(max_length=64)  # as written in the plan
    due: date
    percent: int = 0
    note: str | None = Field(default=None, sa_column=Column(Text))
    photo_file_id: str | None = Field(default=None, max_length=255)
    reported_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    done_on: date | None = None
    overdue_flagged_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    created_at: datetime = Field(sa_type=AwareDateTime)


class PlanMilestone(SQLModel, table=True):
    """A stage of a plan item with its own date (分阶段)."""

    __tablename__ = "plan_milestone"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="plan_item.id", index=True)
    title: str = Field(max_length=200)
    due: date


class PlanProgress(SQLModel, table=True):
    """A progress report on a plan item: percentage, note, photo."""

    __tablename__ = "plan_progress"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="plan_item.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    percent: int
    note: str | None = Field(default=None, sa_column=Column(Text))
    photo_file_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=AwareDateTime)
