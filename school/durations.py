"""Time limits in the profile: wall-clock ("30m", "24h", "1h30m") or working days ("3wd")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from school.i18n import N_
from school.profile_messages import ProfileValueError, quoted

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
            validate_duration, serialization=core_schema.to_string_ser_schema()
        )


def parse_duration(text: str) -> Duration:
    """Parse "30m", "24h", "2d", "1h30m" (wall-clock) or "3wd" (working days)."""
    if not isinstance(text, str):
        raise ProfileValueError(N_("a duration must be a string like '30m', '24h' or '3wd'"))
    s = text.strip().lower()
    parts = _DURATION_PART.findall(s)
    if not s or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", s):
        raise ProfileValueError(
            N_(
                "invalid duration {value}: use a number and a unit m/h/d/wd, "
                "e.g. '30m', '24h', '3wd'"
            ),
            value=quoted(text),
        )
    units = [u for _, u in parts]
    if "wd" in units:
        if len(parts) != 1:
            raise ProfileValueError(
                N_("invalid duration {value}: working days ('wd') cannot be combined"),
                value=quoted(text),
            )
        return Duration(working_days=int(parts[0][0]), text=text.strip())
    if len(set(units)) != len(units):
        raise ProfileValueError(
            N_("invalid duration {value}: a unit appears twice"), value=quoted(text)
        )
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    return Duration(timedelta=dt.timedelta(seconds=seconds), text=text.strip())


def validate_duration(value: Any) -> Duration:
    """A Duration as is, or parsed from its text."""
    if isinstance(value, Duration):
        return value
    return parse_duration(value)
