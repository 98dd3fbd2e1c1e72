"""The rules of meter readings (节约), as pure functions: no database, no clock.

- `parse_readings`: "水表1 1234.5 电表2 56789" → a number per meter (a lone number is the
  reader's only meter).
- `check_reading`: a reading lower than the last one, or using more than `factor` × the usual
  per day, is questioned instead of saved.
- `intervals` / `monthly_usage`: use between consecutive readings, and spread over calendar
  months day by day (what the monthly 通报 and the annual statistics show).
- `compare` / `rise`: this period against the previous one and the same period last year.
- `closed_use`: use while the building was closed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from statistics import median

NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
MAX_READING = 1e10


@dataclass(frozen=True)
class Parsed:
    """What a reading message says: values by meter key, and what could not be read."""

    values: dict[str, float]
    unknown: list[str]


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if 0 <= value < MAX_READING else None


def parse_readings(text: str, names: dict[str, str]) -> Parsed:
    """The readings in a message. `names` maps what a reader may type (a meter's name or
    alias, any case) to the meter's key. A number alone is the value of the only meter when
    there is one; a name without a number, or a number without a name, is left unknown."""
    lowered = {name.lower(): key for name, key in names.items()}
    # longest names first, so "水表10" is not read as "水表1" followed by "0"
    pattern = "|".join(re.escape(n) for n in sorted(lowered, key=len, reverse=True))
    values: dict[str, float] = {}
    unknown: list[str] = []
    keys = set(names.values())
    if pattern:
        found = list(re.finditer(rf"({pattern})\s*[:：=]?\s*({NUMBER.pattern})?", text, re.I))
    else:
        found = []
    rest = text
    for match in found:
        rest = rest.replace(match.group(0), " ", 1)
        key = lowered[match.group(1).lower()]
        value = _number(match.group(2)) if match.group(2) else None
        if value is None:
            unknown.append(match.group(1))
        else:
            values[key] = value
    numbers = NUMBER.findall(rest)
    leftovers = [w for w in re.split(r"[\s,，;；、]+", NUMBER.sub(" ", rest)) if w.strip()]
    if not found and len(numbers) == 1 and len(keys) == 1:
        value = _number(numbers[0])
        if value is not None:
            values[next(iter(keys))] = value
            numbers = []
    unknown += numbers + leftovers
    return Parsed(values, unknown)


# --- checking a new reading ----------------------------------------------------------------------


class Verdict(StrEnum):
    """What a new reading looks like next to the last one."""

    OK = "ok"
    LOWER = "lower"  # below the last reading: a typo, a new meter, or it went round
    ABSURD = "absurd"  # far more use than usual: a typo (an extra digit)?


@dataclass(frozen=True)
class Reading:
    """A meter's value on a day."""

    day: date
    value: float


def daily_rate(earlier: Reading, later: Reading) -> float:
    """Use per day between two readings (a same-day pair counts as one day)."""
    days = max((later.day - earlier.day).days, 1)
    return (later.value - earlier.value) / days


def usual_rate(history: Sequence[Reading]) -> float | None:
    """The usual use per day: the median over the intervals between consecutive readings
    (None with fewer than two readings)."""
    ordered = sorted(history, key=lambda r: r.day)
    rates = [daily_rate(a, b) for a, b in itertools.pairwise(ordered)]
    rates = [r for r in rates if r >= 0]
    return median(rates) if rates else None


def check_reading(value: float, day: date, history: Sequence[Reading], *, factor: float) -> Verdict:
    """Whether a new reading may be saved as it is (see `Verdict`)."""
    earlier = [r for r in history if r.day <= day]
    if not earlier:
        return Verdict.OK
    last = max(earlier, key=lambda r: (r.day, r.value))
    if value < last.value:
        return Verdict.LOWER
    usual = usual_rate(earlier)
    if usual is None or usual <= 0:
        return Verdict.OK
    rate = daily_rate(last, Reading(day, value))
    return Verdict.ABSURD if rate > factor * usual else Verdict.OK


# --- use per period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Use between two consecutive readings: from `start` (exclusive) to `end` (inclusive)."""

    start: date
    end: date
    amount: float

    @property
    def days(self) -> int:
        return max((self.end - self.start).days, 1)

    @property
    def rate(self) -> float:
        return self.amount / self.days

    def covers(self) -> list[date]:
        """The days whose use the interval holds."""
        return [self.start + timedelta(days=i + 1) for i in range(self.days)]


def intervals(readings: Iterable[Reading]) -> list[Interval]:
    """Use between consecutive readings (by day; the last reading of a day counts); a
    reading lower than the one before (a replaced meter) starts afresh."""
    by_day: dict[date, float] = {}
    for reading in readings:
        by_day[reading.day] = reading.value
    days = sorted(by_day)
    found = []
    for a, b in itertools.pairwise(days):
        amount = by_day[b] - by_day[a]
        if amount >= 0:
            found.append(Interval(a, b, amount))
    return found


def month_of(day: date) -> tuple[int, int]:
    return (day.year, day.month)


def monthly_usage(readings: Iterable[Reading]) -> dict[tuple[int, int], float]:
    """Use per calendar month, each interval spread evenly over its days: the months add up
    to the use between the first and the last reading."""
    months: dict[tuple[int, int], float] = {}
    for interval in intervals(readings):
        per_day = interval.amount / interval.days
        for day in interval.covers():
            months[month_of(day)] = months.get(month_of(day), 0.0) + per_day
    return months


@dataclass(frozen=True)
class Comparison:
    """This period's use against the previous period and the same period last year
    (None: nothing to compare with), as shares (0.3 = 30% more)."""

    amount: float
    previous: float | None
    last_year: float | None

    @staticmethod
    def _change(now: float, then: float | None) -> float | None:
        if then is None or then <= 0:
            return None
        return (now - then) / then

    @property
    def vs_previous(self) -> float | None:
        return self._change(self.amount, self.previous)

    @property
    def vs_last_year(self) -> float | None:
        return self._change(self.amount, self.last_year)


def compare(usage: dict[tuple[int, int], float], year: int, month: int) -> Comparison:
    """A month's use against the month before and the same month last year."""
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    return Comparison(
        usage.get((year, month), 0.0), usage.get(previous), usage.get((year - 1, month))
    )


class Alarm(StrEnum):
    """Why a period's use alerts the director."""

    RISE = "rise"  # up beyond the threshold on the previous period or last year
    CLOSED = "closed"  # used while the building was closed


def rise(
    latest: Interval,
    earlier: Sequence[Interval],
    *,
    threshold: float,
) -> float | None:
    """How much the latest interval's use per day rose on the interval before it and on the
    interval covering the same days last year, when it rose beyond `threshold` on either
    (the larger rise); None otherwise (or with nothing to compare)."""
    rises = []
    before = [i for i in earlier if i.end <= latest.start]
    if before:
        previous = max(before, key=lambda i: i.end)
        if previous.rate > 0:
            rises.append((latest.rate - previous.rate) / previous.rate)
    a_year_ago = _year_ago(latest.end)
    same = [i for i in earlier if i.start < a_year_ago <= i.end]
    if same and same[0].rate > 0:
        rises.append((latest.rate - same[0].rate) / same[0].rate)
    beyond = [r for r in rises if r > threshold]
    return max(beyond) if beyond else None


def _year_ago(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def closed_use(
    latest: Interval,
    usual: float | None,
    is_closed: Callable[[date], bool],
    *,
    tolerance: float,
) -> bool:
    """Whether the building was closed all the interval and still used more than
    `tolerance` × its usual use per day (any use, without a usual)."""
    if not all(is_closed(day) for day in latest.covers()):
        return False
    if usual is None or usual <= 0:
        return latest.amount > 0
    return latest.rate > tolerance * usual
