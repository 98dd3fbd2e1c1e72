"""The whole school profile (:class:`SchoolProfile`) and what the rest of Houqin asks of it:
lookups by key, places and labels, inspection plans, matching free text, deadlines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import TypeVar
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from school import places
from school.booking_profile import BookingSettings, booking_problems
from school.calendar import CalendarSettings, add_working_time
from school.cross_checks import Problem, cross_check, dotted
from school.durations import Duration, parse_duration
from school.places import PlaceMatch, normalize
from school.profile_energy import EnergySettings, PlanSettings, energy_problems
from school.profile_sections import (
    AppraisalSettings,
    Building,
    Campus,
    InspectionItem,
    InspectionPlan,
    InspectionSettings,
    Post,
    RepairCategory,
    RepairSettings,
    School,
    Urgency,
    WorklogSettings,
)


class _Section(BaseModel):
    """A part of the profile: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SchoolProfile(_Section):
    """A whole school profile."""

    school: School
    campuses: list[Campus] = Field(min_length=1)
    posts: list[Post] = Field(min_length=1)
    repair: RepairSettings
    inspection: InspectionSettings = InspectionSettings()
    worklog: WorklogSettings = WorklogSettings()
    appraisal: AppraisalSettings = AppraisalSettings()
    calendar: CalendarSettings = CalendarSettings()
    energy: EnergySettings = EnergySettings()
    plan: PlanSettings = PlanSettings()
    bookings: BookingSettings = BookingSettings()

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> SchoolProfile:
        if isinstance(info.context, dict) and info.context.get("defer_cross_checks"):
            return self
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(f"{dotted(loc)}: {msg}" for loc, msg in problems))
        return self

    # ---- validation

    def problems(self) -> list[Problem]:
        """Cross-field problems (unique keys, references, ordering) with their locations."""
        buildings = [b.key for _campus, b in self.buildings()]
        campuses = [c.key for c in self.campuses]
        posts = [p.key for p in self.posts]
        return (
            cross_check(self)
            + energy_problems(buildings, campuses, posts, self.energy)
            + booking_problems(self.bookings, posts, buildings)
        )

    # ---- lookups

    @property
    def tz(self) -> ZoneInfo:
        """The school timezone (Asia/Shanghai unless the profile or HOUQIN_TIMEZONE says)."""
        return ZoneInfo(self.school.timezone or "Asia/Shanghai")

    def with_timezone(self, timezone: str) -> SchoolProfile:
        """This profile in the deployment's time zone; refuses a profile that names another."""
        if self.school.timezone not in (None, timezone):
            raise ValueError(
                f"the profile's school.timezone {self.school.timezone!r} disagrees with "
                f"HOUQIN_TIMEZONE {timezone!r}; set one of them"
            )
        school = self.school.model_copy(update={"timezone": timezone})
        return self.model_copy(update={"school": school})

    def buildings(self) -> Iterator[tuple[Campus, Building]]:
        """Every (campus, building) pair in file order."""
        for campus in self.campuses:
            for building in campus.buildings:
                yield campus, building

    def building(self, key: str) -> Building:
        """The building with this key (KeyError if none)."""
        for _, b in self.buildings():
            if b.key == key:
                return b
        raise KeyError(key)

    def campus_of(self, building: Building | str) -> Campus:
        """The campus holding a building (object or key)."""
        key = building if isinstance(building, str) else building.key
        for campus, b in self.buildings():
            if b.key == key:
                return campus
        raise KeyError(key)

    def find_building(self, name_or_alias: str) -> Building | None:
        """A building by exact key, name or alias (whitespace and case ignored)."""
        wanted = normalize(name_or_alias)
        for _, b in self.buildings():
            if wanted == b.key or wanted in (normalize(n) for n in b.names):
                return b
        return None

    def place_label(
        self,
        building: Building | str,
        floor: str | None = None,
        room: str | None = None,
        *,
        with_campus: bool | None = None,
    ) -> str:
        """A human label like "实验楼3楼女厕" (campus prefixed when the school has several)."""
        b = self.building(building) if isinstance(building, str) else building
        label = b.name + (floor or "") + (room or "")
        if with_campus is None:
            with_campus = len(self.campuses) > 1
        if with_campus:
            label = f"{self.campus_of(b).name} {label}"
        return label

    def post(self, key: str) -> Post:
        """The post with this key (KeyError if none)."""
        return _by_key(self.posts, key)

    def category(self, key: str) -> RepairCategory:
        """The repair category with this key (KeyError if none)."""
        return _by_key(self.repair.categories, key)

    def urgency(self, key: str) -> Urgency:
        """The urgency with this key (KeyError if none)."""
        return _by_key(self.repair.urgencies, key)

    def inspection_item(self, key: str) -> InspectionItem:
        """The checklist item with this key (KeyError if none)."""
        return _by_key(self.inspection.items, key)

    def inspection_plan(self, key: str) -> InspectionPlan:
        """The inspection plan with this key (KeyError if none)."""
        return _by_key(self.inspection.plans, key)

    @property
    def default_urgency(self) -> Urgency:
        """The urgency used when nothing in the text suggests another."""
        return self.urgency(self.repair.default_urgency)

    @property
    def default_category(self) -> RepairCategory:
        """The category used when no keyword matches (其他)."""
        return self.category(self.repair.default_category)

    def plan_items(self, plan: InspectionPlan | str) -> list[InspectionItem]:
        """The checklist items of a plan, in checklist order."""
        p = self.inspection_plan(plan) if isinstance(plan, str) else plan
        if p.items == "all":
            return list(self.inspection.items)
        return [self.inspection_item(k) for k in p.items]

    def plan_places(self, plan: InspectionPlan | str) -> list[Building]:
        """The buildings a plan covers."""
        p = self.inspection_plan(plan) if isinstance(plan, str) else plan
        if p.places == "all":
            return [b for _, b in self.buildings()]
        return [self.building(k) for k in p.places]

    def plan_trigger(self, plan: InspectionPlan | str) -> CronTrigger:
        """The APScheduler trigger of a plan in school time."""
        p = self.inspection_plan(plan) if isinstance(plan, str) else plan
        return p.schedule.trigger(self.tz)

    # ---- free-text matching

    def match_category(self, text: str) -> RepairCategory | None:
        """The category with the longest keyword in the text (see :mod:`school.places`)."""
        return places.match_category(self.repair.categories, text)

    def match_urgency(self, text: str) -> Urgency | None:
        """The first urgency (most urgent first) with a keyword in the text, else None."""
        return places.match_urgency(self.repair.urgencies, text)

    def match_place(self, text: str) -> PlaceMatch | None:
        """Find building, floor and room named in free text ("实验楼3楼女厕…")."""
        return places.match_place((b for _, b in self.buildings()), text)

    # ---- working time

    def add_working_time(
        self, start: dt.datetime, duration: Duration | str, tz: dt.tzinfo | None = None
    ) -> dt.datetime:
        """Deadline ``duration`` after ``start``.

        Wall-clock durations are added as is. Working days (``wd``) consume whole working
        days of ``repair.working_hours`` on calendar working days: Monday 10:00 + 3wd is
        Thursday 10:00; a start outside working hours counts from the next working start.
        Naive datetimes are school-local wall time and a naive result is returned.
        """
        d = parse_duration(duration) if isinstance(duration, str) else duration
        hours = self.repair.working_hours
        return add_working_time(self.calendar, hours, start, d, tz or self.tz)

    def deadlines(
        self, start: dt.datetime, urgency: Urgency | str
    ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(accept_by, finish_by) for a ticket filed at ``start``; None means by appointment."""
        u = self.urgency(urgency) if isinstance(urgency, str) else urgency
        accept = None if u.accept_within is None else self.add_working_time(start, u.accept_within)
        finish = None if u.finish_within is None else self.add_working_time(start, u.finish_within)
        return accept, finish


_M = TypeVar("_M", bound=BaseModel)


def _by_key(items: Iterable[_M], key: str) -> _M:
    for item in items:
        if getattr(item, "key", None) == key:
            return item
    raise KeyError(key)
