"""Errors the operator can fix, printed as one line with exit code 2."""

from __future__ import annotations

from school.profile import SchoolProfile
from school.settings import Settings


class CliError(Exception):
    """A problem the operator can fix; printed as one line, exit code 2."""


def load_profile_or_fail(settings: Settings) -> SchoolProfile:
    """The school profile of the settings, or a CliError naming what is wrong with it."""
    from notices.services import load_school_profile
    from school.profile import ProfileError

    try:
        return load_school_profile(settings)
    except ProfileError as exc:
        raise CliError(f"HOUQIN_SCHOOL_PROFILE is invalid:\n{exc}") from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
