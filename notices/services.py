"""The services every action, notice and job needs besides Telegram: settings, profile,
database and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from school.clock import Clock, SystemClock
from school.profile import SchoolProfile, default_profile_path, load_profile
from school.settings import Settings
from storage.database import Database


@dataclass
class Services:
    """What handlers and jobs need besides Telegram: settings, profile, database, clock."""

    settings: Settings
    profile: SchoolProfile
    database: Database
    clock: Clock

    def now(self) -> datetime:
        """The current time (aware, UTC) from the injected clock."""
        return self.clock.now()

    def local_now(self) -> datetime:
        """The current time in the school's time zone."""
        return self.clock.now().astimezone(self.settings.tz)


def load_school_profile(settings: Settings) -> SchoolProfile:
    """The profile named by HOUQIN_SCHOOL_PROFILE (or the shipped default) in HOUQIN_TIMEZONE.

    Raises school.profile.ProfileError (pointing at lines) or ValueError (time zones disagree).
    """
    profile = load_profile(settings.school_profile or default_profile_path())
    return profile.with_timezone(settings.timezone)


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    """Services for a process: profile checked, database engine created (not yet connected)."""
    return Services(
        settings=settings,
        profile=load_school_profile(settings),
        database=Database(settings.database_url, pool_size=settings.database_pool_size),
        clock=clock or SystemClock(),
    )
