"""Process settings, read from the environment and `.env` and validated at start-up.

Every setting is named HOUQIN_<NAME> (HOUQIN_DATABASE_URL, HOUQIN_LANGUAGE, …), so none collides
with a variable the system sets for something else: Ubuntu sets LANGUAGE=zh_CN:zh for gettext
in every Chinese desktop session. The names of earlier releases (DATABASE_URL, …) still work,
with a one-line deprecation notice, except LANGUAGE, which is gettext's and is never read.
"""

from __future__ import annotations

import logging
import os
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///houqin.db"
SQLITE_SCHEMES = ("sqlite://", "sqlite+aiosqlite://")
PREFIX = "HOUQIN_"
# Names of earlier releases that are still read (deprecated). LANGUAGE is not among them.
LEGACY_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "TELEGRAM_BASE_FILE_URL",
    "DATABASE_URL",
    "TIMEZONE",
    "SCHOOL_PROFILE",
    "LOG_LEVEL",
    "CHART_FONT",
    "MODE",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_LISTEN",
    "WEBHOOK_PORT",
)

log = logging.getLogger(__name__)


def _named(name: str) -> AliasChoices:
    """HOUQIN_<NAME>, and <NAME> where an earlier release read it."""
    choices = [PREFIX + name.upper()]
    if name.upper() in LEGACY_NAMES:
        choices.append(name.upper())
    return AliasChoices(*choices)


class Language(StrEnum):
    """Interface languages that ship with catalogs."""

    ZH_CN = "zh_CN"
    EN = "en"


class Mode(StrEnum):
    """How updates reach the bot."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class Settings(BaseSettings):
    """Every setting the process reads; each is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_prefix=PREFIX,
        extra="ignore",
        populate_by_name=True,
    )

    telegram_bot_token: str = Field(default="", validation_alias=_named("telegram_bot_token"))
    telegram_base_url: str = Field(
        default="https://api.telegram.org/bot", validation_alias=_named("telegram_base_url")
    )
    telegram_base_file_url: str = Field(
        default="https://api.telegram.org/file/bot",
        validation_alias=_named("telegram_base_file_url"),
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias=_named("database_url"))
    # Connections a process keeps open to the database (as many more at a peak).
    database_pool_size: int = Field(default=20, ge=2, le=200)
    timezone: str = Field(default="Asia/Shanghai", validation_alias=_named("timezone"))
    language: Language = Language.ZH_CN  # HOUQIN_LANGUAGE only (LANGUAGE is gettext's)
    school_profile: Path | None = Field(default=None, validation_alias=_named("school_profile"))
    log_level: str = Field(default="INFO", validation_alias=_named("log_level"))
    chart_font: Path | None = Field(default=None, validation_alias=_named("chart_font"))
    mode: Mode = Field(default=Mode.POLLING, validation_alias=_named("mode"))
    webhook_url: str = Field(default="", validation_alias=_named("webhook_url"))
    webhook_secret: str = Field(default="", validation_alias=_named("webhook_secret"))
    webhook_listen: str = Field(default="127.0.0.1", validation_alias=_named("webhook_listen"))
    webhook_port: int = Field(default=8443, ge=1, le=65535, validation_alias=_named("webhook_port"))
    # More than one worker process on one PostgreSQL database, behind one webhook address:
    # updates go through the database's inbox, state is read from it, one worker leads.
    scale_out: bool = False
    # The cockpit (a Telegram Mini App served by the bot): off while cockpit_url is empty.
    cockpit_url: str = ""
    cockpit_listen: str = "127.0.0.1"
    cockpit_port: int = Field(default=8080, ge=1, le=65535)
    cockpit_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    cockpit_session_hours: float = Field(default=8.0, gt=0, le=24 * 7)  # after /cockpit pc

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("cockpit_url")
    @classmethod
    def _public_https(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("https://"):
            raise ValueError(
                "must be the public https:// address of the cockpit (Telegram opens Mini Apps "
                "only over HTTPS); leave it empty to turn the cockpit off"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError(f"unknown log level {value!r} (DEBUG, INFO, WARNING, ERROR)")
        return level

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # sqlite:// runs SQLite on the event loop's thread (storage.sqlite_in_loop);
        # sqlite+aiosqlite:// keeps aiosqlite's thread per connection.
        if value.startswith(("postgresql://", "postgres://")):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        elif not value.startswith((*SQLITE_SCHEMES, "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite://, sqlite+aiosqlite:// or postgresql://")
        if value.startswith(SQLITE_SCHEMES):
            path = value.split(":///", 1)[1].split("?", 1)[0] if ":///" in value else ""
            folder = Path(path).parent
            if path and path != ":memory:" and not folder.is_dir():
                raise ValueError(
                    f"the folder {str(folder)!r} of the SQLite file does not exist; create it "
                    "or fix the path"
                )
        return value

    @field_validator("school_profile", "chart_font", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("school_profile", "chart_font")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} not found")
        return value

    @model_validator(mode="after")
    def _scale_out_needs_postgresql_and_webhook(self) -> Settings:
        if self.scale_out and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "SCALE_OUT needs PostgreSQL (DATABASE_URL=postgresql://…): the workers share "
                "its inbox, its locks and its leader"
            )
        if self.scale_out and self.mode != Mode.WEBHOOK:
            raise ValueError(
                "SCALE_OUT needs MODE=webhook: a reverse proxy spreads the updates over the "
                "workers (long polling can have one reader only)"
            )
        return self

    @property
    def chart_font_path(self) -> str | None:
        """The configured chart font file, if any (else a known installed CJK font is used)."""
        return str(self.chart_font) if self.chart_font else None

    @property
    def cockpit_on(self) -> bool:
        """Whether the cockpit is served (its public address is set)."""
        return bool(self.cockpit_url)

    @property
    def tz(self) -> ZoneInfo:
        """The school's time zone."""
        return ZoneInfo(self.timezone)


class _IsolatedSettings(Settings):
    """Settings from explicit values only: neither the environment nor .env is read."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def isolated_settings(**values: object) -> Settings:
    """Settings from `values` and the defaults alone, whatever the environment says (the demo
    plays the same school on every machine)."""
    return _IsolatedSettings(**values)  # type: ignore[arg-type]


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line meant for the operator."""


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, turning pydantic's report into one clear line."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        name = field.upper() if field.upper().startswith(PREFIX) else PREFIX + field.upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}; fix it in the environment or .env") from None
    env_file = overrides.get("_env_file", ".env")
    for name in legacy_names_in_use(env_file if isinstance(env_file, str | Path) else None):
        log.warning("the setting %s is deprecated: rename it %s%s", name, PREFIX, name)
    return settings


def legacy_names_in_use(env_file: str | Path | None = ".env") -> list[str]:
    """The deprecated names set in the environment or the .env file, without their HOUQIN_
    name (which wins when both are set)."""
    from dotenv import dotenv_values

    found = {key.upper() for key in os.environ}
    if env_file is not None and Path(env_file).is_file():
        found |= {key.upper() for key in dotenv_values(env_file)}
    return [name for name in LEGACY_NAMES if name in found and PREFIX + name not in found]


def require_token(settings: Settings) -> str:
    """The bot token, or a SettingsError saying exactly how to get one."""
    if not settings.telegram_bot_token.strip():
        raise SettingsError(
            "HOUQIN_TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token "
            "in the environment or .env (or try `houqin demo`, which needs none)"
        )
    return settings.telegram_bot_token.strip()
