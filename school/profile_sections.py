"""The sections of a school profile: the school, its campuses and buildings, staff posts, the
repair workflow, inspection checklists and rounds, work-log times and the appraisal scheme.

The calendar and working hours are in :mod:`school.calendar`; the whole profile, with its
lookups, is :class:`school.profile.SchoolProfile`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from school.calendar import WorkingHours
from school.durations import parse_duration
from school.i18n import N_
from school.profile_fields import (
    HHMM,
    Deadline,
    DurationField,
    Key,
    KeysOrAll,
    OptionalDuration,
    Text,
)
from school.profile_messages import ProfileValueError, quoted


class _Section(BaseModel):
    """A part of the profile: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProfileValueError(
            N_("unknown timezone {value} (use an IANA name like 'Asia/Shanghai')"),
            value=quoted(value),
        ) from exc
    return value


def _check_prefix(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{1,6}", value):
        raise ProfileValueError(
            N_("ticket_prefix must be 1-6 capital letters A-Z, got {value}"), value=quoted(value)
        )
    return value


class School(_Section):
    """``[school]``: identity of the school."""

    name: Text
    short_name: Text
    ticket_prefix: Annotated[str, AfterValidator(_check_prefix)] = "BX"
    # Optional: HOUQIN_TIMEZONE applies when omitted (see notices.services.load_school_profile).
    timezone: Annotated[str, AfterValidator(_check_timezone)] | None = None


class Equipment(_Section):
    """``[[campuses.buildings.equipment]]``: equipment at a place that gets a QR sticker of its
    own (教学楼3楼302 投影仪); its repair category is found from its name."""

    floor: Text | None = None  # None: the building itself (no floors)
    room: Text | None = None  # None: the whole floor
    items: list[Text] = Field(min_length=1)


class Building(_Section):
    """``[[campuses.buildings]]``: a building with its floors, rooms and listed equipment."""

    key: Key
    name: Text
    aliases: list[Text] = []
    kind: Text
    floors: list[Text] = []
    rooms: dict[str, list[Text]] = {}
    equipment: list[Equipment] = []

    @property
    def names(self) -> list[str]:
        """The name followed by the aliases."""
        return [self.name, *self.aliases]


class Campus(_Section):
    """``[[campuses]]``: a campus (校区) holding buildings."""

    key: Key
    name: Text
    buildings: list[Building] = []


class Post(_Section):
    """``[[posts]]``: a staff post (岗位) with its written duties."""

    key: Key
    name: Text
    aliases: list[Text] = []
    duties: list[Text] = []
    handles_repairs: bool = False
    inspects: bool = False
    appraised: bool = True


class RepairCategory(_Section):
    """``[[repair.categories]]``: a repair category (大类) and its matching keywords."""

    key: Key
    name: Text
    examples: list[Text] = []
    keywords: list[Text] = []
    default_post: str | None = None


class Urgency(_Section):
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


class RepairReportRule(_Section):
    """``[repair.report]``: when the monthly repair report goes to the leaders' group (day of
    the following month, school time) and how many repeat places it lists."""

    day: int = Field(1, ge=1, le=28)
    time: HHMM = dt.time(9, 30)
    next_working_day: bool = True
    top_places: int = Field(5, ge=0, le=20)


class Material(_Section):
    """``[[repair.materials]]``: a material of the catalogue the crew picks from on 维修完成."""

    key: Key
    name: Text
    unit: Text
    price: Decimal = Field(ge=0, le=1_000_000, decimal_places=2)  # 元 per unit


class RepeatFaults(_Section):
    """``[repair.repeat_faults]``: a place with `count` faults within `days` is flagged to the
    director (修还是换?); 0 turns the flag off."""

    count: int = Field(3, ge=0)
    days: int = Field(30, ge=1, le=366)


class RepairSettings(_Section):
    """``[repair]``: the repair workflow settings."""

    auto_accept_days: int = Field(7, ge=1)
    default_rating: int = Field(5, ge=1, le=5)
    nudge_interval: DurationField = parse_duration("4h")
    working_hours: WorkingHours = WorkingHours()
    default_urgency: str = "normal"
    default_category: str = "other"
    # Someone not registered who scans a place's QR sticker: "report" files it as a visitor
    # (their notices come in the private chat they just opened); "join" asks them to join first.
    visitors: Literal["report", "join"] = "report"
    categories: list[RepairCategory] = Field(min_length=1)
    urgencies: list[Urgency] = Field(min_length=1)
    report: RepairReportRule = RepairReportRule()
    materials: list[Material] = []
    repeat_faults: RepeatFaults = RepeatFaults()


class InspectionItem(_Section):
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


class CronSchedule(_Section):
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
            raise ProfileValueError(N_("a schedule must set hour"))
        if self.day_of_week is not None and re.search(r"\d", self.day_of_week):
            raise ProfileValueError(N_("day_of_week must use names (mon..sun), not numbers"))
        try:
            self.trigger(dt.UTC)
        except ValueError as exc:
            raise ProfileValueError(N_("invalid schedule: {error}"), error=exc) from exc
        return self

    def fields(self) -> dict[str, str]:
        """The set fields, as passed to ``CronTrigger``."""
        return {k: v for k in _CRON_FIELDS if (v := getattr(self, k)) is not None}

    def trigger(self, tz: dt.tzinfo | str) -> CronTrigger:
        """Build the APScheduler trigger in the given timezone."""
        return CronTrigger(timezone=tz, **self.fields())


class InspectionPlan(_Section):
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
    late_marks_for: DurationField = parse_duration("3d")

    @model_validator(mode="after")
    def _has_inspectors(self) -> InspectionPlan:
        if not self.inspector_posts and not self.inspector_people:
            raise ProfileValueError(N_("set inspector_posts and/or inspector_people"))
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


class InspectionSettings(_Section):
    """``[inspection]``: the checklist and the rounds."""

    items: list[InspectionItem] = []
    plans: list[InspectionPlan] = []


class WorklogSettings(_Section):
    """``[worklog]``: daily work-log reminders and deadlines (school time)."""

    reminder_time: HHMM = dt.time(17, 0)
    second_reminder_time: HHMM | None = None  # no line in the profile: no second reminder
    summary_time: HHMM = dt.time(20, 30)
    cutoff_time: HHMM = dt.time(23, 59)
    late_days: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> WorklogSettings:
        if self.second_reminder_time is not None and not (
            self.reminder_time < self.second_reminder_time <= self.cutoff_time
        ):
            raise ProfileValueError(N_("need reminder_time < second_reminder_time <= cutoff_time"))
        if self.reminder_time > self.cutoff_time or self.summary_time > self.cutoff_time:
            raise ProfileValueError(
                N_("reminder_time and summary_time must not be after cutoff_time")
            )
        return self


class AppraisalWeights(_Section):
    """``[appraisal.weights]``: component weights, non-negative, summing to 100."""

    worklog: float = Field(20, ge=0)
    tickets: float = Field(30, ge=0)
    satisfaction: float = Field(20, ge=0)
    inspection: float = Field(10, ge=0)
    leader: float = Field(20, ge=0)
    plan: float = Field(0, ge=0)  # 学期工作计划 follow-through (0: not counted)

    @model_validator(mode="after")
    def _sum(self) -> AppraisalWeights:
        total = sum(self.as_dict().values())
        if abs(total - 100) > 1e-9:
            raise ProfileValueError(N_("weights must sum to 100, got {total}"), total=f"{total:g}")
        return self

    def as_dict(self) -> dict[str, float]:
        """Component name to weight (the plan only when it counts)."""
        weights = {
            "worklog": self.worklog,
            "tickets": self.tickets,
            "satisfaction": self.satisfaction,
            "inspection": self.inspection,
            "leader": self.leader,
        }
        return {**weights, "plan": self.plan} if self.plan > 0 else weights


class Grade(_Section):
    """``[[appraisal.grades]]``: a grade reached at ``min_score``, with its pay coefficient."""

    name: Text
    min_score: float = Field(ge=0, le=100)
    pay_coefficient: float = Field(ge=0)


class StarRule(_Section):
    """``[appraisal.star]``: who can be the month's 服务标兵."""

    count: int = Field(1, ge=0)
    min_score: float = Field(0, ge=0, le=100)
    min_log_ratio: float = Field(0.9, ge=0, le=1)
    require_no_incident: bool = True


class PublishRule(_Section):
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


class AppraisalSettings(_Section):
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
