"""The tables of saving water and power (节约): meter readings, alerts, the monthly 通报."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import AwareDateTime


class MeterReading(SQLModel, table=True):
    """A meter's value on a day (one per meter and day: a second reading replaces it)."""

    __tablename__ = "meter_reading"
    __table_args__ = (UniqueConstraint("meter_key", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    meter_key: str = Field(max_length=32, index=True)
    day: date
    value: float
    person_id: int | None = Field(default=None, foreign_key="person.id")
    photo_file_id: str | None = Field(default=None, max_length=255)
    confirmed: str | None = Field(default=None, max_length=16)  # a questioned value confirmed
    read_at: datetime = Field(sa_type=AwareDateTime)


class EnergyAlert(SQLModel, table=True):
    """A rise in use (or use while closed) told to the director once, and its repair ticket."""

    __tablename__ = "energy_alert"
    __table_args__ = (UniqueConstraint("meter_key", "period_end", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    meter_key: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # rise | closed
    period_start: date
    period_end: date
    amount: float
    change: float | None = None
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_at: datetime = Field(sa_type=AwareDateTime)


class EnergyReport(SQLModel, table=True):
    """A month's energy 通报, claimed once: its text queued, its chart posted once."""

    __tablename__ = "energy_report"

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7, unique=True)
    chart: str = Field(default="pending", max_length=8)  # pending | sent | none
    created_at: datetime = Field(sa_type=AwareDateTime)
