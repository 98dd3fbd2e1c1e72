"""The school calendar (weekends, holidays, 调休 working days, vacations, exam weeks), the
daily working hours, and time limits counted in working time."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, model_validator

from school.durations import Duration
from school.i18n import N_
from school.profile_fields import HHMM, WEEKDAYS, Text, Weekday
from school.profile_messages import ProfileValueError


class _Section(BaseModel):
    """A part of the profile: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


MAX_SCAN_DAYS = 3660
"""How far ahead a working day is looked for (ten years) before giving up."""


class WorkingHours(_Section):
    """Daily working hours used by working-day time limits."""

    start: HHMM = dt.time(8, 0)
    end: HHMM = dt.time(17, 30)

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start >= self.end:
            raise ProfileValueError(N_("working_hours.start must be before end"))
        return self

    @property
    def length(self) -> dt.timedelta:
        """Length of one working day."""
        day = dt.date(2000, 1, 1)
        return dt.datetime.combine(day, self.end) - dt.datetime.combine(day, self.start)


class DateRange(_Section):
    """A named inclusive date range (holiday, vacation, exam week)."""

    name: Text
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ProfileValueError(
                N_("end {end} is before start {start}"), end=self.end, start=self.start
            )
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


class CalendarSettings(_Section):
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
        for _ in range(MAX_SCAN_DAYS):
            if self.is_working_day(d):
                return d
            d += dt.timedelta(days=1)
        raise ValueError("no working day within ten years")


def add_working_time(
    calendar: CalendarSettings,
    hours: WorkingHours,
    start: dt.datetime,
    duration: Duration,
    zone: dt.tzinfo,
) -> dt.datetime:
    """Deadline ``duration`` after ``start``.

    Wall-clock durations are added as is. Working days (``wd``) consume whole working
    days of ``hours`` on calendar working days: Monday 10:00 + 3wd is Thursday 10:00; a
    start outside working hours counts from the next working start. Naive datetimes are
    school-local wall time (``zone``) and a naive result is returned.
    """
    naive = start.tzinfo is None
    local = start if naive else start.astimezone(zone).replace(tzinfo=None)
    if duration.timedelta is not None:
        if naive:
            return start + duration.timedelta
        return (start.astimezone(dt.UTC) + duration.timedelta).astimezone(zone)
    remaining = hours.length * (duration.working_days or 0)
    if remaining:
        local = _consume_working_time(calendar, hours, local, remaining)
    return local if naive else local.replace(tzinfo=zone)


def _consume_working_time(
    calendar: CalendarSettings,
    hours: WorkingHours,
    cursor: dt.datetime,
    remaining: dt.timedelta,
) -> dt.datetime:
    for _ in range(MAX_SCAN_DAYS * 2):
        day = cursor.date()
        day_start = dt.datetime.combine(day, hours.start)
        day_end = dt.datetime.combine(day, hours.end)
        if not calendar.is_working_day(day) or cursor >= day_end:
            cursor = dt.datetime.combine(day + dt.timedelta(days=1), hours.start)
            continue
        cursor = max(cursor, day_start)
        available = day_end - cursor
        if remaining <= available:
            return cursor + remaining
        remaining -= available
        cursor = dt.datetime.combine(day + dt.timedelta(days=1), hours.start)
    raise ValueError("no working days within ten years")
