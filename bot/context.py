"""The typed callback context every handler receives, and the services it carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock, SystemClock
from bot.i18n import normalize_language, translator
from bot.profile import SchoolProfile, default_profile_path, load_profile
from bot.settings import Settings
from storage.database import Database
from storage.models import Person


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
    """The profile named by SCHOOL_PROFILE (or the shipped default) in the TIMEZONE.

    Raises bot.profile.ProfileError (pointing at lines) or ValueError (time zones disagree).
    """
    profile = load_profile(settings.school_profile or default_profile_path())
    return profile.with_timezone(settings.timezone)


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    """Services for a process: profile checked, database engine created (not yet connected)."""
    return Services(
        settings=settings,
        profile=load_school_profile(settings),
        database=Database(settings.database_url),
        clock=clock or SystemClock(),
    )


class BotData:
    """`application.bot_data`: holds the live services (never persisted)."""

    def __init__(self) -> None:
        self.services: Services | None = None


class HouqinContext(CallbackContext[ExtBot[None], dict[str, Any], dict[str, Any], BotData]):
    """Callback context with the services, the current person and their language.

    `person` and `language` are filled once per update by `handlers.common.identify`,
    which runs before every other handler.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.person: Person | None = None
        self.language: str = "zh_CN"

    @property
    def services(self) -> Services:
        """The application's services."""
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("services are not attached to the application")
        return services

    def _(self, message: str) -> str:
        """Translate a message into the current user's language."""
        return translator(self.language)(message)

    def set_language(self, language: str) -> None:
        """Switch the language used for the rest of this update."""
        self.language = normalize_language(language)


HouqinApp = Application[Any, HouqinContext, dict[str, Any], dict[str, Any], BotData, Any]
