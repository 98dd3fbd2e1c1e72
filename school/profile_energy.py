"""The saving-school sections of a profile (节约型学校): ``[energy]`` with its meters and the
reading schedule, and ``[plan]``, the semester work plan's categories and reminders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from school.calendar import CalendarSettings
from school.cross_checks import unknown
from school.i18n import N_
from school.profile_fields import HHMM, WEEKDAYS, Key, Loc, Text, Weekday
from school.profile_messages import Message, ProfileValueError


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeterKind(StrEnum):
    """What a meter measures (the guideline's three kinds)."""

    WATER = "water"
    ELECTRICITY = "electricity"
    GAS = "gas"


DEFAULT_UNITS = {MeterKind.WATER: "m³", MeterKind.ELECTRICITY: "kWh", MeterKind.GAS: "m³"}


class Meter(_Section):
    """``[[energy.meters]]``: a water, electricity or gas meter of a building (or a campus)."""

    key: Key
    name: Text  # what a reader types before the number: "水表1", "教学楼电表"
    kind: MeterKind
    building: Key | None = None  # None: the campus' main meter
    campus: Key | None = None
    unit: Text | None = None
    post: Key  # whose staff read it
    aliases: list[Text] = []

    @property
    def shown_unit(self) -> str:
        """The unit, or the kind's usual one."""
        return self.unit or DEFAULT_UNITS[self.kind]

    @property
    def names(self) -> list[str]:
        """The name and the aliases (what a reading line may start with)."""
        return [self.name, *self.aliases]


class ClosedBuilding(_Section):
    """``[[energy.closed]]``: when a building is closed, so any real use is suspicious."""

    building: Key
    in_vacations: bool = True  # closed during 寒暑假
    on_holidays: bool = True  # closed on public holidays
    weekends: bool = False  # closed on weekends too

    def is_closed(self, calendar: CalendarSettings, day: dt.date) -> bool:
        """Whether the building is closed all of ``day``."""
        if self.in_vacations and calendar.is_vacation(day):
            return True
        if self.on_holidays and calendar.is_holiday(day):
            return True
        return self.weekends and calendar.is_weekend(day) and not calendar.is_working_day(day)


class EnergySettings(_Section):
    """``[energy]``: meters, when they are read, and what is suspicious."""

    meters: list[Meter] = []
    read_on: list[Weekday] = ["fri"]  # weekly reading days (with the weekly round)
    read_month_end: bool = True  # also on the last working day of each month
    read_at: HHMM = dt.time(8, 0)  # when the readers are asked (the day to read in)
    absurd_factor: float = Field(default=5.0, gt=1)  # a reading over factor × usual: questioned
    rise_threshold: float = Field(default=0.3, gt=0)  # +30% on the previous/last year: alert
    closed_tolerance: float = Field(default=0.2, ge=0)  # use while closed over 20% of usual
    report_day: int = Field(default=1, ge=1, le=28)  # the monthly 通报 (first working day from)
    report_at: HHMM = dt.time(9, 0)
    headcount: int | None = Field(default=None, gt=0)  # students + staff, for per-capita figures
    closed: list[ClosedBuilding] = []

    @model_validator(mode="after")
    def _unique(self) -> EnergySettings:
        keys = [m.key for m in self.meters]
        names = [n for m in self.meters for n in m.names]
        if len(set(keys)) != len(keys) or len(set(names)) != len(names):
            raise ProfileValueError(N_("meter keys and names must be unique"))
        return self

    def meter(self, key: str) -> Meter:
        """The meter with this key (KeyError when none)."""
        for meter in self.meters:
            if meter.key == key:
                return meter
        raise KeyError(key)

    def meters_of_post(self, post: str | None) -> list[Meter]:
        """The meters a post's staff read."""
        return [m for m in self.meters if m.post == post]

    def is_reading_day(self, calendar: CalendarSettings, day: dt.date) -> bool:
        """A working day that is a weekly reading day or the month's last working day."""
        if not calendar.is_working_day(day):
            return False
        if WEEKDAYS[day.weekday()] in self.read_on:
            return True
        return self.read_month_end and last_working_day(calendar, day) == day

    def closed_rule(self, building: str | None) -> ClosedBuilding | None:
        """When the building is closed (None: never)."""
        return next((c for c in self.closed if c.building == building), None)


def last_working_day(calendar: CalendarSettings, day: dt.date) -> dt.date | None:
    """The last working day of ``day``'s month (None: the month has none)."""
    first_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    d = first_next - dt.timedelta(days=1)
    while d.month == day.month:
        if calendar.is_working_day(d):
            return d
        d -= dt.timedelta(days=1)
    return None


class PlanSettings(_Section):
    """``[plan]``: the semester work plan (学期工作计划)."""

    categories: list[Text] = ["维修改造", "设备添置", "绿化", "安全", "培训", "节能", "其他"]
    remind_days_before: list[int] = [7, 1]  # reminders before a milestone or the due date
    remind_at: HHMM = dt.time(9, 0)
    digest_on: Weekday = "mon"  # the weekly digest to the leaders' group
    digest_at: HHMM = dt.time(8, 30)


def energy_problems(
    buildings: Iterable[str], campuses: Iterable[str], posts: Iterable[str], energy: EnergySettings
) -> list[tuple[Loc, Message]]:
    """References of ``[energy]`` to buildings, campuses and posts that do not exist."""
    building_keys, campus_keys, post_keys = set(buildings), set(campuses), set(posts)
    found: list[tuple[Loc, Message]] = []
    for i, meter in enumerate(energy.meters):
        at: Loc = ("energy", "meters", i)
        if meter.building is not None and meter.building not in building_keys:
            found.append(
                ((*at, "building"), unknown(meter.building, building_keys, Message(N_("building"))))
            )
        if meter.campus is not None and meter.campus not in campus_keys:
            found.append(
                ((*at, "campus"), unknown(meter.campus, campus_keys, Message(N_("campus"))))
            )
        if meter.post not in post_keys:
            found.append(((*at, "post"), unknown(meter.post, post_keys, Message(N_("post")))))
    for i, rule in enumerate(energy.closed):
        if rule.building not in building_keys:
            found.append(
                (
                    ("energy", "closed", i, "building"),
                    unknown(rule.building, building_keys, Message(N_("building"))),
                )
            )
    return found
