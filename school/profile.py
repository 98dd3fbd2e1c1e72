"""School profile: everything that differs between schools, loaded from one TOML file.

A profile is validated into frozen pydantic models. Errors are reported as
``"{filename}:{line}: {dotted.path}: {message}"`` so a school admin can fix the file.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import functools
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import core_schema

__all__ = [
    "AppraisalSettings",
    "AppraisalWeights",
    "Building",
    "CalendarSettings",
    "Campus",
    "CronSchedule",
    "DateRange",
    "Duration",
    "Grade",
    "InspectionItem",
    "InspectionPlan",
    "InspectionSettings",
    "LineLocator",
    "PlaceMatch",
    "Post",
    "ProfileError",
    "PublishRule",
    "RepairCategory",
    "RepairSettings",
    "School",
    "SchoolProfile",
    "StarRule",
    "Urgency",
    "WorkingHours",
    "WorklogSettings",
    "check_profile",
    "default_profile",
    "default_profile_path",
    "load_profile",
    "parse_duration",
]

Loc = tuple[str | int, ...]

# --------------------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"(\d+)\s*(wd|d|h|m)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}


@dataclass(frozen=True)
class Duration:
    """A time limit: wall-clock (``timedelta``) or a number of ``working_days``.

    Exactly one of the two is set. Working days are counted on the school calendar
    within the working hours (see :meth:`SchoolProfile.add_working_time`).
    """

    timedelta: dt.timedelta | None = None
    working_days: int | None = None
    text: str = field(default="", compare=False)

    @property
    def is_working(self) -> bool:
        """True for working-day durations ("3wd")."""
        return self.working_days is not None

    def __str__(self) -> str:
        return self.text

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_duration, serialization=core_schema.to_string_ser_schema()
        )


def parse_duration(text: str) -> Duration:
    """Parse "30m", "24h", "2d", "1h30m" (wall-clock) or "3wd" (working days)."""
    if not isinstance(text, str):
        raise ValueError("a duration must be a string like '30m', '24h' or '3wd'")
    s = text.strip().lower()
    parts = _DURATION_PART.findall(s)
    if not s or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", s):
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit m/h/d/wd, e.g. '30m', '24h', '3wd'"
        )
    units = [u for _, u in parts]
    if "wd" in units:
        if len(parts) != 1:
            raise ValueError(f"invalid duration {text!r}: working days ('wd') cannot be combined")
        return Duration(working_days=int(parts[0][0]), text=text.strip())
    if len(set(units)) != len(units):
        raise ValueError(f"invalid duration {text!r}: a unit appears twice")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    return Duration(timedelta=dt.timedelta(seconds=seconds), text=text.strip())


def _validate_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    return parse_duration(value)


# --------------------------------------------------------------------------- field types

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _parse_hhmm(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        if value.second or value.microsecond or value.tzinfo:
            raise ValueError('a time must be "HH:MM" (no seconds or offset)')
        return value
    if isinstance(value, str):
        m = _HHMM.match(value.strip())
        if m:
            return dt.time(int(m.group(1)), int(m.group(2)))
    raise ValueError(f'expected a time as "HH:MM" (24-hour), got {value!r}')


def _check_key(value: str) -> str:
    if not _KEY.match(value):
        raise ValueError(
            f"invalid key {value!r}: use lowercase ASCII letters, digits and '_', "
            "starting with a letter, at most 32 characters"
        )
    return value


def _parse_deadline(value: Any) -> dt.time | Duration:
    if isinstance(value, dt.time | Duration):
        return value
    if isinstance(value, str) and ":" in value:
        return _parse_hhmm(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"expected \"HH:MM\" (same day) or a duration like '3h', got {value!r}")


def _parse_optional_duration(value: Any) -> Duration | None:
    if value is None or value == "appointment":
        return None
    return _validate_duration(value)


def _all_or_list(value: Any) -> Any:
    if value == "all":
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError('expected "all" or a list of keys')


Key = Annotated[str, AfterValidator(_check_key)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _dump_deadline(value: dt.time | Duration) -> str:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else str(value)


HHMM = Annotated[
    dt.time,
    BeforeValidator(_parse_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
]
DurationField = Annotated[Duration, PlainValidator(_validate_duration)]
OptionalDuration = Annotated[Duration | None, PlainValidator(_parse_optional_duration)]
Deadline = Annotated[
    dt.time | Duration,
    PlainValidator(_parse_deadline),
    PlainSerializer(_dump_deadline, return_type=str, when_used="json"),
]
KeysOrAll = Annotated[Literal["all"] | list[str], BeforeValidator(_all_or_list)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- sections


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name like 'Asia/Shanghai')"
        ) from exc
    return value


def _check_prefix(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{1,6}", value):
        raise ValueError(f"ticket_prefix must be 1-6 capital letters A-Z, got {value!r}")
    return value


class School(_Model):
    """``[school]``: identity of the school."""

    name: Text
    short_name: Text
    ticket_prefix: Annotated[str, AfterValidator(_check_prefix)] = "BX"
    # Optional: the TIMEZONE setting applies when omitted (see notices.services.build_services).
    timezone: Annotated[str, AfterValidator(_check_timezone)] | None = None


class Building(_Model):
    """``[[campuses.buildings]]``: a building with its floors and rooms."""

    key: Key
    name: Text
    aliases: list[Text] = []
    kind: Text
    floors: list[Text] = []
    rooms: dict[str, list[Text]] = {}

    @property
    def names(self) -> list[str]:
        """The name followed by the aliases."""
        return [self.name, *self.aliases]


class Campus(_Model):
    """``[[campuses]]``: a campus (校区) holding buildings."""

    key: Key
    name: Text
    buildings: list[Building] = []


class Post(_Model):
    """``[[posts]]``: a staff post (岗位) with its written duties."""

    key: Key
    name: Text
    aliases: list[Text] = []
    duties: list[Text] = []
    handles_repairs: bool = False
    inspects: bool = False
    appraised: bool = True


class WorkingHours(_Model):
    """Daily working hours used by working-day time limits."""

    start: HHMM = dt.time(8, 0)
    end: HHMM = dt.time(17, 30)

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working_hours.start must be before end")
        return self

    @property
    def length(self) -> dt.timedelta:
        """Length of one working day."""
        day = dt.date(2000, 1, 1)
        return dt.datetime.combine(day, self.end) - dt.datetime.combine(day, self.start)


class RepairCategory(_Model):
    """``[[repair.categories]]``: a repair category (大类) and its matching keywords."""

    key: Key
    name: Text
    examples: list[Text] = []
    keywords: list[Text] = []
    default_post: str | None = None


class Urgency(_Model):
    """``[[repair.urgencies]]``: an urgency level and its time limits (None = by appointment)."""

    key: Key
    name: Text
    accept_within: OptionalDuration = None
    finish_within: OptionalDuration = None
    keywords: list[Text] = []

    @property
    def by_appointment(self) -> bool:
        """True when neither limit is set (预约)."""
        return self.accept_within is None and self.finish_within is None


class RepairSettings(_Model):
    """``[repair]``: the repair workflow settings."""

    auto_accept_days: int = Field(7, ge=1)
    default_rating: int = Field(5, ge=1, le=5)
    nudge_interval: DurationField = parse_duration("4h")
    working_hours: WorkingHours = WorkingHours()
    default_urgency: str = "normal"
    default_category: str = "other"
    categories: list[RepairCategory] = Field(min_length=1)
    urgencies: list[Urgency] = Field(min_length=1)


class InspectionItem(_Model):
    """``[[inspection.items]]``: one checklist item."""

    key: Key
    number: int = Field(ge=1)
    area: Text
    text: Text
    category: str


_CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute")


def _cron_field(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


CronField = Annotated[str | None, BeforeValidator(_cron_field)]


class CronSchedule(_Model):
    """A schedule as APScheduler ``CronTrigger`` fields, in school time.

    Example: ``{ day_of_week = "fri", hour = 15 }`` or ``{ day = "last thu", hour = 14 }``.
    Weekdays must be names (mon..sun): APScheduler numbers them from Monday, cron from Sunday.
    """

    year: CronField = None
    month: CronField = None
    day: CronField = None
    week: CronField = None
    day_of_week: CronField = None
    hour: CronField = None
    minute: CronField = None

    @model_validator(mode="after")
    def _valid(self) -> CronSchedule:
        if self.hour is None:
            raise ValueError("a schedule must set hour")
        if self.day_of_week is not None and re.search(r"\d", self.day_of_week):
            raise ValueError("day_of_week must use names (mon..sun), not numbers")
        try:
            self.trigger(dt.UTC)
        except ValueError as exc:
            raise ValueError(f"invalid schedule: {exc}") from exc
        return self

    def fields(self) -> dict[str, str]:
        """The set fields, as passed to ``CronTrigger``."""
        return {k: v for k in _CRON_FIELDS if (v := getattr(self, k)) is not None}

    def trigger(self, tz: dt.tzinfo | str) -> CronTrigger:
        """Build the APScheduler trigger in the given timezone."""
        return CronTrigger(timezone=tz, **self.fields())


class InspectionPlan(_Model):
    """``[[inspection.plans]]``: a recurring inspection round (小查/联查)."""

    key: Key
    name: Text
    schedule: CronSchedule
    deadline: Deadline = dt.time(18, 0)
    items: KeysOrAll = "all"
    places: KeysOrAll = "all"
    inspector_posts: list[str] = []
    inspector_people: list[Text] = []
    joint: bool = False
    run_in_vacation: bool = False
    remind_before: DurationField = parse_duration("1h")

    @model_validator(mode="after")
    def _has_inspectors(self) -> InspectionPlan:
        if not self.inspector_posts and not self.inspector_people:
            raise ValueError("set inspector_posts and/or inspector_people")
        return self

    def deadline_at(self, start: dt.datetime) -> dt.datetime:
        """When a round started at ``start`` is due (HH:MM = same day, else start + duration)."""
        if isinstance(self.deadline, dt.time):
            return start.replace(
                hour=self.deadline.hour, minute=self.deadline.minute, second=0, microsecond=0
            )
        if self.deadline.timedelta is None:
            raise ValueError("a working-day deadline needs SchoolProfile.add_working_time")
        return start + self.deadline.timedelta


class InspectionSettings(_Model):
    """``[inspection]``: the checklist and the rounds."""

    items: list[InspectionItem] = []
    plans: list[InspectionPlan] = []


class WorklogSettings(_Model):
    """``[worklog]``: daily work-log reminders and deadlines (school time)."""

    reminder_time: HHMM = dt.time(17, 0)
    second_reminder_time: HHMM | None = dt.time(19, 30)
    summary_time: HHMM = dt.time(20, 30)
    cutoff_time: HHMM = dt.time(23, 59)
    late_days: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> WorklogSettings:
        if self.second_reminder_time is not None and not (
            self.reminder_time < self.second_reminder_time <= self.cutoff_time
        ):
            raise ValueError("need reminder_time < second_reminder_time <= cutoff_time")
        if self.reminder_time > self.cutoff_time or self.summary_time > self.cutoff_time:
            raise ValueError("reminder_time and summary_time must not be after cutoff_time")
        return self


class AppraisalWeights(_Model):
    """``[appraisal.weights]``: component weights, non-negative, summing to 100."""

    worklog: float = Field(20, ge=0)
    tickets: float = Field(30, ge=0)
    satisfaction: float = Field(20, ge=0)
    inspection: float = Field(10, ge=0)
    leader: float = Field(20, ge=0)

    @model_validator(mode="after")
    def _sum(self) -> AppraisalWeights:
        total = sum(self.as_dict().values())
        if abs(total - 100) > 1e-9:
            raise ValueError(f"weights must sum to 100, got {total:g}")
        return self

    def as_dict(self) -> dict[str, float]:
        """Component name to weight."""
        return {
            "worklog": self.worklog,
            "tickets": self.tickets,
            "satisfaction": self.satisfaction,
            "inspection": self.inspection,
            "leader": self.leader,
        }


class Grade(_Model):
    """``[[appraisal.grades]]``: a grade reached at ``min_score``, with its pay coefficient."""

    name: Text
    min_score: float = Field(ge=0, le=100)
    pay_coefficient: float = Field(ge=0)


class StarRule(_Model):
    """``[appraisal.star]``: who can be the month's 服务标兵."""

    count: int = Field(1, ge=0)
    min_score: float = Field(0, ge=0, le=100)
    min_log_ratio: float = Field(0.9, ge=0, le=1)
    require_no_incident: bool = True


class PublishRule(_Model):
    """``[appraisal.publish]``: when results are published (day of the following month)."""

    monthly_day: int = Field(1, ge=1, le=28)
    quarterly_day: int = Field(5, ge=1, le=28)
    yearly_day: int = Field(10, ge=1, le=28)
    time: HHMM = dt.time(9, 0)
    next_working_day: bool = True


def _default_grades() -> list[Grade]:
    return [
        Grade(name="优秀", min_score=90, pay_coefficient=1.2),
        Grade(name="合格", min_score=70, pay_coefficient=1.0),
        Grade(name="基本合格", min_score=60, pay_coefficient=0.8),
        Grade(name="不合格", min_score=0, pay_coefficient=0.5),
    ]


class AppraisalSettings(_Model):
    """``[appraisal]``: the monthly appraisal scheme."""

    weights: AppraisalWeights = AppraisalWeights()
    grades: list[Grade] = Field(default_factory=_default_grades, min_length=1)
    excellent_cap: float = Field(0.2, ge=0, le=1)
    incident_veto: bool = True
    star: StarRule = StarRule()
    publish: PublishRule = PublishRule()
    ranking_top_n: int = Field(0, ge=0)
    late_log_factor: float = Field(0.5, ge=0, le=1)

    def grade_for(self, score: float) -> Grade:
        """The highest grade whose ``min_score`` the score reaches."""
        for grade in self.grades:
            if score >= grade.min_score:
                return grade
        return self.grades[-1]

    @property
    def lowest_grade(self) -> Grade:
        """The grade given on a safety-incident veto."""
        return self.grades[-1]


class DateRange(_Model):
    """A named inclusive date range (holiday, vacation, exam week)."""

    name: Text
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


class CalendarSettings(_Model):
    """``[calendar]``: weekends, holidays, 调休 workdays, vacations and exam weeks."""

    weekend: list[Weekday] = ["sat", "sun"]
    holidays: list[DateRange] = []
    makeup_workdays: list[dt.date] = []
    vacations: list[DateRange] = []
    exam_weeks: list[DateRange] = []
    work_in_vacations: bool = True

    def is_weekend(self, day: dt.date) -> bool:
        """True on a configured weekend weekday."""
        return WEEKDAYS[day.weekday()] in self.weekend

    def holiday(self, day: dt.date) -> DateRange | None:
        """The public holiday covering ``day``, if any."""
        return next((h for h in self.holidays if day in h), None)

    def is_holiday(self, day: dt.date) -> bool:
        """True on a public holiday."""
        return self.holiday(day) is not None

    def vacation(self, day: dt.date) -> DateRange | None:
        """The vacation (寒暑假) covering ``day``, if any."""
        return next((v for v in self.vacations if day in v), None)

    def is_vacation(self, day: dt.date) -> bool:
        """True during a vacation."""
        return self.vacation(day) is not None

    def is_exam_week(self, day: dt.date) -> bool:
        """True during an exam week."""
        return any(day in e for e in self.exam_weeks)

    def is_working_day(self, day: dt.date) -> bool:
        """Holidays are off; 调休 days work; weekends are off; vacations per setting."""
        if self.is_holiday(day):
            return False
        if day in self.makeup_workdays:
            return True
        if self.is_weekend(day):
            return False
        return self.work_in_vacations or not self.is_vacation(day)

    def working_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Working days from ``start`` to ``end`` inclusive (empty if end < start)."""
        days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
        return [d for d in days if self.is_working_day(d)]

    def next_working_day(self, day: dt.date, *, include: bool = True) -> dt.date:
        """The first working day on/after ``day`` (after it if ``include`` is False)."""
        d = day if include else day + dt.timedelta(days=1)
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(d):
                return d
            d += dt.timedelta(days=1)
        raise ValueError("no working day within ten years")


_MAX_SCAN_DAYS = 3660


class PlaceMatch(NamedTuple):
    """A place found in free text; floor and room may be unknown."""

    building: Building
    floor: str | None
    room: str | None


# --------------------------------------------------------------------------- the profile


class SchoolProfile(_Model):
    """A whole school profile."""

    school: School
    campuses: list[Campus] = Field(min_length=1)
    posts: list[Post] = Field(min_length=1)
    repair: RepairSettings
    inspection: InspectionSettings = InspectionSettings()
    worklog: WorklogSettings = WorklogSettings()
    appraisal: AppraisalSettings = AppraisalSettings()
    calendar: CalendarSettings = CalendarSettings()

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> SchoolProfile:
        if isinstance(info.context, dict) and info.context.get("defer_cross_checks"):
            return self
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(f"{_dotted(loc)}: {msg}" for loc, msg in problems))
        return self

    # ---- validation

    def problems(self) -> list[tuple[Loc, str]]:
        """Cross-field problems (unique keys, references, ordering) with their locations."""
        return _cross_check(self)

    # ---- lookups

    @property
    def tz(self) -> ZoneInfo:
        """The school timezone (Asia/Shanghai unless the profile or TIMEZONE says otherwise)."""
        return ZoneInfo(self.school.timezone or "Asia/Shanghai")

    def with_timezone(self, timezone: str) -> SchoolProfile:
        """This profile in the deployment's time zone; refuses a profile that names another."""
        if self.school.timezone not in (None, timezone):
            raise ValueError(
                f"the profile's school.timezone {self.school.timezone!r} disagrees with "
                f"TIMEZONE {timezone!r}; set one of them"
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
        wanted = _norm(name_or_alias)
        for _, b in self.buildings():
            if wanted == b.key or wanted in (_norm(n) for n in b.names):
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
        """The category with the longest keyword in the text.

        Ties go to the keyword found earlier in the text (the object usually comes before
        the symptom: "冷柜不制冷"), then to more keyword hits, then to file order.
        """
        best: tuple[int, int, int, int] | None = None
        found: RepairCategory | None = None
        t = _norm(text)
        for i, cat in enumerate(self.repair.categories):
            hits = [(len(k), -pos) for k in cat.keywords if (pos := t.find(_norm(k))) >= 0]
            if hits:
                length, neg_pos = max(hits)
                score = (length, neg_pos, len(hits), -i)
                if best is None or score > best:
                    best, found = score, cat
        return found

    def match_urgency(self, text: str) -> Urgency | None:
        """The first urgency (most urgent first) with a keyword in the text, else None."""
        t = _norm(text)
        for urgency in self.repair.urgencies:
            if any(_norm(k) in t for k in urgency.keywords):
                return urgency
        return None

    def match_place(self, text: str) -> PlaceMatch | None:
        """Find building, floor and room named in free text ("实验楼3楼女厕…")."""
        t = _norm(text)
        best: tuple[int, int] | None = None
        found: Building | None = None
        span = (0, 0)
        for _, b in self.buildings():
            for name in b.names:
                pos = _find(t, _norm(name))
                if pos >= 0 and (best is None or (len(name), -pos) > best):
                    best, found, span = (len(name), -pos), b, (pos, pos + len(_norm(name)))
        if found is None:
            return None
        rest = t[: span[0]] + " " + t[span[1] :]
        floor = _match_floor(found, rest)
        room: str | None = None
        if floor is not None:
            room = _longest_in(rest, found.rooms.get(floor, []))
        else:
            candidates = [
                (f, r)
                for f, rooms in found.rooms.items()
                for r in rooms
                if _find(rest, _norm(r)) >= 0
            ]
            if candidates:
                longest = max(len(r) for _, r in candidates)
                top = [(f, r) for f, r in candidates if len(r) == longest]
                if len(top) == 1:
                    floor, room = top[0]
        return PlaceMatch(found, floor, room)

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
        zone = tz or self.tz
        naive = start.tzinfo is None
        local = start if naive else start.astimezone(zone).replace(tzinfo=None)
        if d.timedelta is not None:
            if naive:
                return start + d.timedelta
            return (start.astimezone(dt.UTC) + d.timedelta).astimezone(zone)
        remaining = self.repair.working_hours.length * (d.working_days or 0)
        if remaining:
            local = self._consume_working_time(local, remaining)
        return local if naive else local.replace(tzinfo=zone)

    def _consume_working_time(self, cursor: dt.datetime, remaining: dt.timedelta) -> dt.datetime:
        hours = self.repair.working_hours
        for _ in range(_MAX_SCAN_DAYS * 2):
            day = cursor.date()
            day_start = dt.datetime.combine(day, hours.start)
            day_end = dt.datetime.combine(day, hours.end)
            if not self.calendar.is_working_day(day) or cursor >= day_end:
                cursor = dt.datetime.combine(day + dt.timedelta(days=1), hours.start)
                continue
            cursor = max(cursor, day_start)
            available = day_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = dt.datetime.combine(day + dt.timedelta(days=1), hours.start)
        raise ValueError("no working days within ten years")

    def deadlines(
        self, start: dt.datetime, urgency: Urgency | str
    ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """(accept_by, finish_by) for a ticket filed at ``start``; None means by appointment."""
        u = self.urgency(urgency) if isinstance(urgency, str) else urgency
        accept = None if u.accept_within is None else self.add_working_time(start, u.accept_within)
        finish = None if u.finish_within is None else self.add_working_time(start, u.finish_within)
        return accept, finish


# --------------------------------------------------------------------------- helpers


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()


_M = TypeVar("_M", bound=BaseModel)


def _by_key(items: Iterable[_M], key: str) -> _M:
    for item in items:
        if getattr(item, "key", None) == key:
            return item
    raise KeyError(key)


def _find(text: str, word: str) -> int:
    """Index of ``word`` in ``text`` not glued to other digits, or -1."""
    start = 0
    while word:
        pos = text.find(word, start)
        if pos < 0:
            return -1
        before = text[pos - 1] if pos else ""
        after = text[pos + len(word)] if pos + len(word) < len(text) else ""
        if not (word[0].isdigit() and before.isdigit()) and not (
            word[-1].isdigit() and after.isdigit()
        ):
            return pos
        start = pos + 1
    return -1


def _longest_in(text: str, words: Iterable[str]) -> str | None:
    hits = [w for w in words if _find(text, _norm(w)) >= 0]
    return max(hits, key=len) if hits else None


_CN_DIGITS = "零一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return head + "十" + (_CN_DIGITS[ones] if ones else "")


def _floor_variants(floor: str) -> list[str]:
    m = re.fullmatch(r"(\d+)\s*(楼|层|f|F)", floor.strip())
    if not m or not 0 < int(m.group(1)) < 100:
        return [floor]
    n = int(m.group(1))
    cn = _cn_number(n)
    return [floor, f"{n}楼", f"{n}层", f"{n}f", f"{cn}楼", f"{cn}层"]


def _match_floor(building: Building, text: str) -> str | None:
    best: tuple[int, str] | None = None
    for floor in building.floors:
        for variant in _floor_variants(floor):
            if _find(text, _norm(variant)) >= 0 and (best is None or len(variant) > best[0]):
                best = (len(variant), floor)
    return best[1] if best else None


def _dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_\-\u4e00-\u9fff]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _duplicates(
    values: Iterable[tuple[Loc, str]], what: str, out: list[tuple[Loc, str]]
) -> set[str]:
    seen: dict[str, Loc] = {}
    for loc, value in values:
        if value in seen:
            out.append((loc, f"duplicate {what} {value!r} (first at {_dotted(seen[value])})"))
        else:
            seen[value] = loc
    return set(seen)


def _unknown(value: str, known: Iterable[str], what: str) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(value, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"
    return f"unknown {what} {value!r}{hint}"


def _cross_check(p: SchoolProfile) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []

    # locations
    _duplicates(((("campuses", i, "key"), c.key) for i, c in enumerate(p.campuses)), "campus", out)
    bloc = [
        (("campuses", ci, "buildings", bi), b)
        for ci, c in enumerate(p.campuses)
        for bi, b in enumerate(c.buildings)
    ]
    loc: Loc
    building_keys = _duplicates((((*loc, "key"), b.key) for loc, b in bloc), "building key", out)
    names: list[tuple[Loc, str]] = []
    for loc, b in bloc:
        names.append(((*loc, "name"), b.name))
        names.extend(((*loc, "aliases", j), a) for j, a in enumerate(b.aliases))
        _duplicates((((*loc, "floors", j), f) for j, f in enumerate(b.floors)), "floor", out)
        for floor, rooms in b.rooms.items():
            if floor not in b.floors:
                out.append(((*loc, "rooms", floor), _unknown(floor, b.floors, "floor")))
            _duplicates((((*loc, "rooms", floor, j), r) for j, r in enumerate(rooms)), "room", out)
    _duplicates(((loc, _norm(n)) for loc, n in names), "building name or alias", out)

    # posts
    post_keys = _duplicates(
        ((("posts", i, "key"), x.key) for i, x in enumerate(p.posts)), "post", out
    )
    _duplicates(((("posts", i, "name"), x.name) for i, x in enumerate(p.posts)), "post name", out)
    posts: dict[str, Post] = {}
    for post in p.posts:
        posts.setdefault(post.key, post)

    # repair
    cats = p.repair.categories
    cat_keys = _duplicates(
        ((("repair", "categories", i, "key"), c.key) for i, c in enumerate(cats)), "category", out
    )
    for i, c in enumerate(cats):
        if c.default_post is None:
            continue
        loc = ("repair", "categories", i, "default_post")
        if c.default_post not in post_keys:
            out.append((loc, _unknown(c.default_post, post_keys, "post")))
        elif not posts[c.default_post].handles_repairs:
            out.append((loc, f"post {c.default_post!r} does not have handles_repairs = true"))
    urg_keys = _duplicates(
        ((("repair", "urgencies", i, "key"), u.key) for i, u in enumerate(p.repair.urgencies)),
        "urgency",
        out,
    )
    if p.repair.default_urgency not in urg_keys:
        out.append(
            (("repair", "default_urgency"), _unknown(p.repair.default_urgency, urg_keys, "urgency"))
        )
    if p.repair.default_category not in cat_keys:
        msg = _unknown(p.repair.default_category, cat_keys, "category")
        out.append((("repair", "default_category"), msg))

    # inspection
    items = p.inspection.items
    item_keys = _duplicates(
        ((("inspection", "items", i, "key"), x.key) for i, x in enumerate(items)), "item", out
    )
    _duplicates(
        ((("inspection", "items", i, "number"), str(x.number)) for i, x in enumerate(items)),
        "item number",
        out,
    )
    for i, x in enumerate(items):
        if x.category not in cat_keys:
            msg = _unknown(x.category, cat_keys, "repair category")
            out.append((("inspection", "items", i, "category"), msg))
    plans = p.inspection.plans
    _duplicates(
        ((("inspection", "plans", i, "key"), x.key) for i, x in enumerate(plans)), "plan", out
    )
    for i, plan in enumerate(plans):
        loc = ("inspection", "plans", i)
        refs: list[tuple[str, list[str] | str, set[str], str]] = [
            ("items", plan.items, item_keys, "checklist item"),
            ("places", plan.places, building_keys, "building"),
        ]
        for name, value, known, what in refs:
            if value != "all":
                for j, k in enumerate(value):
                    if k not in known:
                        out.append(((*loc, name, j), _unknown(k, known, what)))
        for j, k in enumerate(plan.inspector_posts):
            if k not in post_keys:
                out.append(((*loc, "inspector_posts", j), _unknown(k, post_keys, "post")))
            elif not posts[k].inspects:
                out.append(
                    ((*loc, "inspector_posts", j), f"post {k!r} does not have inspects = true")
                )

    # appraisal
    grades = p.appraisal.grades
    for i in range(1, len(grades)):
        if grades[i].min_score >= grades[i - 1].min_score:
            out.append(
                (
                    ("appraisal", "grades", i, "min_score"),
                    f"grades must be in descending min_score order: {grades[i].min_score:g} "
                    f"is not below {grades[i - 1].min_score:g}",
                )
            )
    if grades and grades[-1].min_score != 0:
        out.append(
            (
                ("appraisal", "grades", len(grades) - 1, "min_score"),
                "the last grade must start at 0",
            )
        )
    _duplicates(
        ((("appraisal", "grades", i, "name"), g.name) for i, g in enumerate(grades)), "grade", out
    )

    # calendar
    cal = p.calendar
    for i, day in enumerate(cal.makeup_workdays):
        loc = ("calendar", "makeup_workdays", i)
        if not cal.is_weekend(day):
            out.append((loc, f"{day} is a {WEEKDAYS[day.weekday()]}, not a weekend day"))
        if (h := cal.holiday(day)) is not None:
            out.append((loc, f"{day} is inside the holiday {h.name}"))
    _duplicates(
        ((("calendar", "makeup_workdays", i), str(d)) for i, d in enumerate(cal.makeup_workdays)),
        "date",
        out,
    )
    return out


# --------------------------------------------------------------------------- line locator


class LineLocator:
    """Best-effort map from TOML key paths to the line they are written on."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[Loc, int] = {}
        self._arrays: dict[Loc, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        try:
            self._parse()
        except (IndexError, ValueError):  # pragma: no cover - input was valid TOML
            pass

    def line_of(self, loc: Iterable[str | int]) -> int:
        """Line of ``loc`` or of its nearest recorded parent (1 if none)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    # ---- scanning

    def _line(self) -> int:
        return bisect.bisect_left(self._newlines, self.pos) + 1

    def _cur(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _record(self, path: Loc, line: int) -> None:
        for i in range(1, len(path) + 1):
            self.lines.setdefault(path[:i], line)

    def _skip(self, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t" or (newlines and c in "\r\n"):
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                break

    def _parse(self) -> None:
        current: Loc = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return
            line = self._line()
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                current = self._resolve(self._key(), array=True)
                self._skip(newlines=False)
                self.pos += 2
                self._record(current, line)
            elif self._cur() == "[":
                self.pos += 1
                current = self._resolve(self._key(), array=False)
                self._skip(newlines=False)
                self.pos += 1
                self._record(current, line)
            else:
                start = self.pos
                keys = self._key()
                self._skip(newlines=False)
                if self._cur() == "=":
                    self.pos += 1
                self._record(current + keys, line)
                self._value(current + keys)
                if self.pos == start:
                    self.pos += 1

    def _resolve(self, keys: tuple[str, ...], array: bool) -> Loc:
        path: list[str | int] = []
        for i, k in enumerate(keys):
            path.append(k)
            t = tuple(path)
            if array and i == len(keys) - 1:
                n = self._arrays.get(t, 0)
                self._arrays[t] = n + 1
                path.append(n)
            elif t in self._arrays:
                path.append(self._arrays[t] - 1)
        return tuple(path)

    def _key(self) -> tuple[str, ...]:
        keys: list[str] = []
        while True:
            self._skip(newlines=False)
            c = self._cur()
            if c in ('"', "'"):
                keys.append(self._string())
            else:
                m = re.compile(r"[^\s.=\[\]\"'#{},]+").match(self.text, self.pos)
                if not m:
                    break
                keys.append(m.group(0))
                self.pos = m.end()
            self._skip(newlines=False)
            if self._cur() != ".":
                break
            self.pos += 1
        return tuple(keys)

    def _string(self) -> str:
        text = self.text
        quote = text[self.pos]
        if text.startswith(quote * 3, self.pos):
            end = text.find(quote * 3, self.pos + 3)
            end = len(text) if end < 0 else end
            while text.startswith(quote, end + 3):  # up to two quotes may close the string
                end += 1
            value = text[self.pos + 3 : end]
            self.pos = end + 3
            return value
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(text) and text[self.pos] != quote and text[self.pos] != "\n":
            c = text[self.pos]
            if c == "\\" and quote == '"':
                chars.append(self._escape())
                continue
            chars.append(c)
            self.pos += 1
        self.pos += 1
        return "".join(chars)

    def _escape(self) -> str:
        text = self.text
        kind = text[self.pos + 1 : self.pos + 2]
        simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\"}
        if kind in ("u", "U"):
            width = 4 if kind == "u" else 8
            digits = text[self.pos + 2 : self.pos + 2 + width]
            self.pos += 2 + width
            return chr(int(digits, 16))
        self.pos += 2
        return simple.get(kind, kind)

    def _value(self, path: Loc) -> None:
        self._skip(newlines=False)
        c = self._cur()
        if c == "[":
            self._array(path)
        elif c == "{":
            self._table(path)
        elif c in ('"', "'"):
            self._string()
        else:
            m = re.compile(r"[^,\]}\r\n#]*").match(self.text, self.pos)
            self.pos = m.end() if m else self.pos

    def _array(self, path: Loc) -> None:
        self.pos += 1
        index = 0
        while self.pos < len(self.text):
            self._skip(newlines=True)
            if self._cur() == "]":
                self.pos += 1
                return
            start = self.pos
            self._record((*path, index), self._line())
            self._value((*path, index))
            self._skip(newlines=True)
            if self._cur() == ",":
                self.pos += 1
            if self.pos == start:
                self.pos += 1
            index += 1

    def _table(self, path: Loc) -> None:
        self.pos += 1
        while self.pos < len(self.text):
            self._skip(newlines=True)
            if self._cur() == "}":
                self.pos += 1
                return
            start = self.pos
            line = self._line()
            keys = self._key()
            self._skip(newlines=False)
            if self._cur() == "=":
                self.pos += 1
            self._record(path + keys, line)
            self._value(path + keys)
            self._skip(newlines=True)
            if self._cur() == ",":
                self.pos += 1
            if self.pos == start:
                self.pos += 1


# --------------------------------------------------------------------------- loading


class ProfileError(Exception):
    """A profile failed to load; ``errors`` are ``"file:line: path: message"`` strings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(self.errors)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def _model_for(loc: Loc) -> type[BaseModel] | None:
    """The model class addressed by a pydantic error location, for "did you mean" hints."""
    model: type[BaseModel] = SchoolProfile
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        found = _find_model(info.annotation)
        if found is None:
            return None
        model = found
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _find_model(typing.get_args(annotation)[0])
    if origin in (list, dict, Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _find_model(arg)
            if found is not None:
                return found
    return None


def _message(error: Any) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    msg = str(error["msg"])
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind == "missing":
        msg = "missing required key"
    elif kind == "extra_forbidden" and loc and isinstance(loc[-1], str):
        model = _model_for(loc[:-1])
        msg = "unknown key"
        if model is not None:
            allowed = list(model.model_fields)
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            msg += f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(allowed)})"
    return msg


def _clean_loc(loc: Iterable[Any]) -> Loc:
    # Drop union/function tags pydantic inserts (e.g. "function-plain[...]", "list[str]").
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]()]", str(p)))


def _parse(path: Path) -> tuple[dict[str, Any], str]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError([f"{name}: cannot read profile: {exc}"]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POSITION.search(msg)
        line = getattr(exc, "lineno", None)
        if m and m.group(1):
            line = int(m.group(1))
            msg = msg[: m.start()] + f" (column {m.group(2)})"
        elif m:
            msg = msg[: m.start()] + " (at end of file)"
            line = text.count("\n") + 1
        raise ProfileError([f"{name}:{line or 1}: TOML syntax error: {msg}"]) from exc
    return data, text


def load_profile(path: str | Path) -> SchoolProfile:
    """Load and validate a profile; raise :class:`ProfileError` with located messages."""
    path = Path(path)
    data, text = _parse(path)
    locator = LineLocator(text)
    located: list[tuple[int, str]] = []
    try:
        profile = SchoolProfile.model_validate(data, context={"defer_cross_checks": True})
    except ValidationError as exc:
        for err in exc.errors():
            loc = _clean_loc(err["loc"])
            located.append((locator.line_of(loc), f"{_dotted(loc) or '(root)'}: {_message(err)}"))
    else:
        for loc, msg in profile.problems():
            located.append((locator.line_of(loc), f"{_dotted(loc)}: {msg}"))
        if not located:
            return profile
    located.sort(key=lambda x: x[0])
    raise ProfileError([f"{path.name}:{line}: {msg}" for line, msg in located])


def check_profile(path: str | Path) -> list[str]:
    """Errors of a profile file (empty when valid), for ``houqin profile check FILE``."""
    try:
        load_profile(path)
    except ProfileError as exc:
        return exc.errors
    return []


def default_profile_path() -> Path:
    """Path of the bundled default profile."""
    return Path(__file__).parent / "profiles" / "default.toml"


@functools.cache
def default_profile() -> SchoolProfile:
    """The bundled default profile (cached)."""
    return load_profile(default_profile_path())
