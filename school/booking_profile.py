"""``[bookings]``: meeting and reception services (会务与接待) in the school profile.

Venues (with capacity and kind), the classes a request falls in (小型/中型/大型 meetings by
size, receptions by level, activities) each with its standard checklist, lead time in working
days, whether the director approves it and the posts responsible; the frugality rules
receptions must respect (慎用承诺: a request the rules do not allow is refused with why).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from school.durations import Duration, parse_duration
from school.i18n import N_
from school.profile_fields import HHMM, DurationField, Key, Loc, Text
from school.profile_messages import Message, ProfileValueError, quoted

BookingKind = Literal["meeting", "reception", "activity"]
KINDS: tuple[BookingKind, ...] = ("meeting", "reception", "activity")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Venue(_Section):
    """``[[bookings.venues]]``: a room or hall that can be booked."""

    key: Key
    name: Text
    capacity: int = Field(ge=1)
    kind: Text  # 会议室 / 报告厅 / 接待室 / 多功能厅 / 室外 …
    building: str | None = None  # a building key (checked against the campuses)


class ChecklistItem(_Section):
    """``[[bookings.checklist]]``: a standard step (会议通知, 会场布置, 签到, 会议保障 …)."""

    key: Key
    name: Text
    after: bool = False  # done after the event (会后整理): not needed to be ready


class Need(_Section):
    """``[[bookings.needs]]``: something a request may ask for (音响话筒, 茶水, 用餐 …)."""

    key: Key
    name: Text
    meal: bool = False  # asking it makes a reception state its meal budget per head


class BookingClass(_Section):
    """``[[bookings.classes]]``: a class of request with its standard.

    Meetings and activities fall in the first class of their kind whose ``max_people`` holds
    them (the last one without a maximum takes the rest); receptions are chosen by level."""

    key: Key
    name: Text
    kind: BookingKind
    max_people: int | None = Field(None, ge=1)
    lead_days: int = Field(0, ge=0)  # at least this many working days ahead
    approval: bool = False  # the director approves before it is assigned
    checklist: list[str] = Field(min_length=1)
    posts: list[str] = []  # responsible posts; empty: the section's default
    description: str = ""


class Frugality(_Section):
    """``[bookings.frugality]``: caps a reception must respect (勤俭节约, 热情周到)."""

    people_per_table: int = Field(10, ge=1)  # a meal table seats at most this many
    meal_cap_per_head: int = Field(60, ge=0)  # yuan
    # escorts (陪同): at most `escorts_when_few` with up to `few_guests` guests, beyond that
    # at most `escort_ratio` of the guests
    few_guests: int = Field(10, ge=0)
    escorts_when_few: int = Field(3, ge=0)
    escort_ratio: float = Field(1 / 3, ge=0, le=1)
    forbidden_words: list[Text] = []  # a note asking for these is refused (酒水, 香烟, 礼品 …)

    def max_escorts(self, guests: int) -> int:
        """The most escorts allowed with this many guests."""
        if guests <= self.few_guests:
            return self.escorts_when_few
        return max(self.escorts_when_few, int(guests * self.escort_ratio))

    def tables(self, people: int) -> int:
        """Meal tables needed."""
        return -(-people // self.people_per_table)


class BookingSettings(_Section):
    """``[bookings]``: the whole section."""

    number_prefix: str = Field("HW", pattern=r"^[A-Z]{1,6}$")
    posts: list[str] = []  # default responsible posts
    day_start: HHMM = dt.time(7, 30)  # venues are booked between these (free slots shown)
    day_end: HHMM = dt.time(21, 30)
    remind_before: DurationField = parse_duration("24h")  # staff, checklist not done
    escalate_before: DurationField = parse_duration("1h")  # director, checklist not done
    rating_weight: int = Field(1, ge=0, le=5)  # a service rating counts as this many ratings
    max_weeks: int = Field(20, ge=1, le=52)  # the longest weekly series
    venues: list[Venue] = []
    checklist: list[ChecklistItem] = []
    needs: list[Need] = []
    classes: list[BookingClass] = []
    frugality: Frugality = Frugality()

    @model_validator(mode="after")
    def _consistent(self) -> BookingSettings:
        for what, items in (
            ("venues", self.venues),
            ("checklist", self.checklist),
            ("needs", self.needs),
            ("classes", self.classes),
        ):
            keys = [item.key for item in items]
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise ProfileValueError(
                    N_("duplicate key {key} in bookings.{what}"), key=quoted(dupes[0]), what=what
                )
        steps = {item.key for item in self.checklist}
        for klass in self.classes:
            for step in klass.checklist:
                if step not in steps:
                    raise ProfileValueError(
                        N_("class {key}: unknown checklist step {step}"),
                        key=quoted(klass.key),
                        step=quoted(step),
                    )
        if self.day_start >= self.day_end:
            raise ProfileValueError(N_("bookings: day_start must be before day_end"))
        return self

    # ---- lookups

    def venue(self, key: str) -> Venue:
        """The venue with this key (KeyError if none)."""
        return _by_key(self.venues, key)

    def booking_class(self, key: str) -> BookingClass:
        """The class with this key (KeyError if none)."""
        return _by_key(self.classes, key)

    def step(self, key: str) -> ChecklistItem:
        """The checklist step with this key (KeyError if none)."""
        return _by_key(self.checklist, key)

    def after_steps(self, steps: Iterable[str]) -> list[str]:
        """Those of the steps done after the event."""
        after = {item.key for item in self.checklist if item.after}
        return [step for step in steps if step in after]

    def need(self, key: str) -> Need:
        """The need with this key (KeyError if none)."""
        return _by_key(self.needs, key)

    def classes_of(self, kind: str) -> list[BookingClass]:
        """The classes of a kind, in file order."""
        return [c for c in self.classes if c.kind == kind]

    def class_for(self, kind: str, people: int, level: str | None = None) -> BookingClass | None:
        """The class a request falls in: a reception by its level, the others by size."""
        if kind == "reception":
            found = [c for c in self.classes_of(kind) if c.key == level]
            return found[0] if found else None
        for klass in self.classes_of(kind):
            if klass.max_people is None or people <= klass.max_people:
                return klass
        return None

    def posts_of(self, klass: BookingClass) -> list[str]:
        """The posts responsible for a class."""
        return list(klass.posts or self.posts)

    def similar_venues(self, venue: Venue, people: int) -> list[Venue]:
        """Other venues of the same kind that hold `people`, smallest first."""
        found = [v for v in self.venues if v.key != venue.key and v.capacity >= people]
        same = [v for v in found if v.kind == venue.kind]
        return sorted(same or found, key=lambda v: (v.capacity, v.key))

    def remind_delta(self) -> dt.timedelta:
        """How long before the start the staff are reminded."""
        return _delta(self.remind_before)

    def escalate_delta(self) -> dt.timedelta:
        """How long before the start the director hears of an unfinished checklist."""
        return _delta(self.escalate_before)


def _delta(duration: Duration) -> dt.timedelta:
    if duration.timedelta is None:
        raise ValueError("a booking reminder needs a wall-clock duration, not working days")
    return duration.timedelta


def booking_problems(
    settings: BookingSettings, posts: Iterable[str], buildings: Iterable[str]
) -> list[tuple[Loc, Message]]:
    """References from ``[bookings]`` to posts and buildings that do not exist."""
    post_keys, building_keys = set(posts), set(buildings)
    found: list[tuple[Loc, Message]] = []
    for i, post in enumerate(settings.posts):
        if post not in post_keys:
            found.append((("bookings", "posts", i), _unknown(N_("post"), post)))
    for i, klass in enumerate(settings.classes):
        for j, post in enumerate(klass.posts):
            if post not in post_keys:
                found.append((("bookings", "classes", i, "posts", j), _unknown(N_("post"), post)))
        if not settings.posts_of(klass):
            found.append((("bookings", "classes", i, "posts"), Message(N_("no responsible post"))))
    for i, venue in enumerate(settings.venues):
        if venue.building is not None and venue.building not in building_keys:
            found.append(
                (("bookings", "venues", i, "building"), _unknown(N_("building"), venue.building))
            )
    for duration, name in (
        (settings.remind_before, "remind_before"),
        (settings.escalate_before, "escalate_before"),
    ):
        if duration.timedelta is None:
            found.append(
                (("bookings", name), Message(N_("use hours or minutes here, not working days")))
            )
    return found


def _unknown(what: str, value: str) -> Message:
    return Message(
        N_("unknown {what} {value}{hint}"), what=Message(what), value=quoted(value), hint=""
    )


_T = TypeVar("_T", bound=Any)


def _by_key(items: Iterable[_T], key: str) -> _T:
    for item in items:
        if item.key == key:
            return item
    raise KeyError(key)
