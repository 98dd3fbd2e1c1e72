"""The typed callback context every handler receives (with the services, the person and their
language)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot
from telegram.request import BaseRequest

from notices.services import Services
from school.i18n import normalize_language, translator
from storage.models import Person


class BotData:
    """`application.bot_data`: holds the live services (never persisted) and the Bot API
    connections, which the lifecycle closes even when start-up failed half-way."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.connections: list[BaseRequest] = []


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
        # While a form's entry point runs: says that the form the person was in is put aside
        # (see handlers.forms.opening).
        self.leaving_form: Callable[[], Awaitable[None]] | None = None

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
