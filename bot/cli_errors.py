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
        problems = "\n".join(exc.render(settings.language.value))
        raise CliError(f"HOUQIN_SCHOOL_PROFILE is invalid:\n{problems}") from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _chain(error: BaseException) -> list[BaseException]:
    """The error, what it wraps (SQLAlchemy's .orig) and what caused it, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        wrapped = getattr(current, "orig", None)
        current = (
            wrapped
            if isinstance(wrapped, BaseException)
            else (current.__cause__ or current.__context__)
        )
    return seen


def explain(error: BaseException, settings: Settings | None) -> str | None:
    """One line naming the cause of a start-up failure the operator can fix, and the fix; None
    for anything else (a bug, which keeps its traceback)."""
    from sqlalchemy.engine import make_url
    from telegram.error import InvalidToken, NetworkError

    chain = _chain(error)
    text = " ".join(str(e) for e in chain).lower()
    database = settings.database_url if settings is not None else ""
    if any(isinstance(e, InvalidToken) for e in chain):
        return (
            "HOUQIN_TELEGRAM_BOT_TOKEN: Telegram rejected the token; copy it again from "
            "@BotFather (/mybots → API Token)"
        )
    if any(isinstance(e, NetworkError) for e in chain) and settings is not None:
        return (
            f"HOUQIN_TELEGRAM_BASE_URL: cannot reach the Bot API at "
            f"{settings.telegram_base_url} ({chain[-1]}); check the address (Telegram's is "
            "https://api.telegram.org/bot) and the network"
        )
    if database.startswith("sqlite") and "unable to open database file" in text:
        path = make_url(database).database or ""
        return (
            f"HOUQIN_DATABASE_URL: cannot open the SQLite file {path!r}: its folder does not "
            "exist or is not writable; create the folder or fix the path"
        )
    if database.startswith("postgresql"):
        url = make_url(database)
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        if any(isinstance(e, ConnectionRefusedError | TimeoutError) for e in chain) or (
            "connect call failed" in text or "could not connect" in text
        ):
            return (
                f"HOUQIN_DATABASE_URL: cannot reach PostgreSQL at {where}; start it or fix "
                "the host and port"
            )
        for marker in ("does not exist", "password authentication failed", "no pg_hba.conf"):
            if marker in text:
                reason = next(str(e) for e in reversed(chain) if marker in str(e).lower())
                return f"HOUQIN_DATABASE_URL: PostgreSQL at {where} refused: {reason}"
    return None
