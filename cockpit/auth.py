"""Telegram Mini App launch data (initData): validated exactly as Telegram documents it.

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app

data_check_string: every field but `hash`, as `key=value`, sorted by key, joined by "\\n";
secret_key = HMAC-SHA256(key="WebAppData", msg=bot_token);
hash = hex(HMAC-SHA256(key=secret_key, msg=data_check_string)).
The comparison is constant-time; `auth_date` older than the allowed age (or in the future
beyond a little clock skew) is refused, so a leaked initData stops working on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

CLOCK_SKEW = timedelta(minutes=5)


class InvalidInitData(Exception):
    """The launch data is missing, forged, of another bot, or too old (HTTP 401)."""


@dataclass(frozen=True)
class LaunchUser:
    """Who opened the Mini App, as Telegram signed it."""

    telegram_id: int
    first_name: str
    language_code: str | None
    auth_date: datetime


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign(fields: dict[str, str], bot_token: str) -> str:
    """initData for `fields`, signed as Telegram signs it (tests and the demo use it)."""
    digest = hmac.new(
        _secret(bot_token), _data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    return urlencode({**fields, "hash": digest})


def launch_data(
    telegram_id: int, bot_token: str, *, now: datetime, first_name: str = "", language: str = ""
) -> str:
    """Signed initData for a user opening the Mini App at `now`."""
    user = {"id": telegram_id, "first_name": first_name or str(telegram_id)}
    if language:
        user["language_code"] = language
    fields = {
        "auth_date": str(int(now.timestamp())),
        "query_id": "AAH" + str(telegram_id),
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
    }
    return sign(fields, bot_token)


def validate(init_data: str, bot_token: str, *, now: datetime, max_age: timedelta) -> LaunchUser:
    """The user behind valid launch data; InvalidInitData otherwise."""
    if not init_data:
        raise InvalidInitData("no launch data")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidInitData("malformed launch data") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InvalidInitData("a field appears twice")
    given = fields.get("hash", "")
    expected = hmac.new(
        _secret(bot_token), _data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InvalidInitData("bad signature")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), tz=UTC)
        user = json.loads(fields["user"])
        telegram_id = int(user["id"])
    except (KeyError, ValueError, TypeError):
        raise InvalidInitData("signed, but without a user or auth_date") from None
    if now - auth_date > max_age:
        raise InvalidInitData("launch data expired")
    if auth_date - now > CLOCK_SKEW:
        raise InvalidInitData("launch data from the future")
    return LaunchUser(
        telegram_id=telegram_id,
        first_name=str(user.get("first_name", "")),
        language_code=user.get("language_code"),
        auth_date=auth_date,
    )


# --- sessions outside Telegram (after a one-time link) ---------------------------------------


def _session_key(bot_token: str) -> bytes:
    return hmac.new(b"HouqinCockpitSession", bot_token.encode(), hashlib.sha256).digest()


def session_token(person_id: int, bot_token: str, *, ends: datetime) -> str:
    """A signed session for a person (a browser outside Telegram), ending at `ends`."""
    body = f"{person_id}.{int(ends.timestamp())}"
    digest = hmac.new(_session_key(bot_token), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{digest}"


def validate_session(token: str, bot_token: str, *, now: datetime) -> int:
    """The person id of a valid session; InvalidInitData otherwise (forged or ended)."""
    body, _dot, given = token.rpartition(".")
    expected = hmac.new(_session_key(bot_token), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(given.encode(), expected.encode()):
        raise InvalidInitData("bad session")
    person, _dot, until = body.partition(".")
    try:
        person_id, ends = int(person), datetime.fromtimestamp(int(until), tz=UTC)
    except ValueError:
        raise InvalidInitData("bad session") from None
    if now >= ends:
        raise InvalidInitData("session ended")
    return person_id
