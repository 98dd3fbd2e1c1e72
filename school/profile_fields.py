"""The value types a school profile is written in (keys, texts, "HH:MM" times, durations,
deadlines)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
)

from school.durations import Duration, parse_duration, validate_duration
from school.i18n import N_
from school.profile_messages import ProfileValueError, quoted

Loc = tuple[str | int, ...]
"""Where a value sits in the profile: keys and list indexes, e.g. ("posts", 0, "key")."""

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def parse_hhmm(value: Any) -> dt.time:
    """A time of day written "HH:MM" (24-hour)."""
    if isinstance(value, dt.time):
        if value.second or value.microsecond or value.tzinfo:
            raise ProfileValueError(N_('a time must be "HH:MM" (no seconds or offset)'))
        return value
    if isinstance(value, str):
        m = _HHMM.match(value.strip())
        if m:
            return dt.time(int(m.group(1)), int(m.group(2)))
    raise ProfileValueError(
        N_('expected a time as "HH:MM" (24-hour), got {value}'), value=quoted(value)
    )


def _check_key(value: str) -> str:
    if not _KEY.match(value):
        raise ProfileValueError(
            N_(
                "invalid key {value}: use lowercase ASCII letters, digits and '_', "
                "starting with a letter, at most 32 characters"
            ),
            value=quoted(value),
        )
    return value


def _parse_deadline(value: Any) -> dt.time | Duration:
    if isinstance(value, dt.time | Duration):
        return value
    if isinstance(value, str) and ":" in value:
        return parse_hhmm(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ProfileValueError(
        N_("expected \"HH:MM\" (same day) or a duration like '3h', got {value}"),
        value=quoted(value),
    )


def _parse_optional_duration(value: Any) -> Duration | None:
    if value is None or value == "appointment":
        return None
    return validate_duration(value)


def _all_or_list(value: Any) -> Any:
    if value == "all":
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ProfileValueError(N_('expected "all" or a list of keys'))


def _dump_deadline(value: dt.time | Duration) -> str:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else str(value)


Key = Annotated[str, AfterValidator(_check_key)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
HHMM = Annotated[
    dt.time,
    BeforeValidator(parse_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
]
DurationField = Annotated[Duration, PlainValidator(validate_duration)]
OptionalDuration = Annotated[Duration | None, PlainValidator(_parse_optional_duration)]
Deadline = Annotated[
    dt.time | Duration,
    PlainValidator(_parse_deadline),
    PlainSerializer(_dump_deadline, return_type=str, when_used="json"),
]
KeysOrAll = Annotated[Literal["all"] | list[str], BeforeValidator(_all_or_list)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
