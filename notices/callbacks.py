"""Callback data: one typed, versioned codec for every inline button's data.

Each kind of button is a frozen dataclass subclassing `CallbackData` with a short `prefix` and a
`version`; its fields (int, str, bool, date or a StrEnum) are written in order after the
prefix and version, separated by ':'::

    @dataclass(frozen=True)
    class TicketButton(CallbackData, prefix="tk", version=1):
        action: TicketAction
        ticket_id: int

    TicketButton(TicketAction.TAKE, 42).encode() == "tk1:take:42"
    decode("tk1:take:42") == TicketButton(TicketAction.TAKE, 42)

`encode` refuses data over Telegram's 64-byte limit. `decode` returns the button, or
`Expired` for data of another version or of an older, unversioned format ("tk:take:42": a
button on a message sent by an earlier release of the bot), or `Malformed` for data nobody
wrote (tampered, forged, numbers out of range), so the handler answers "此按钮已过期" or
refuses cleanly instead of misreading it or failing with a traceback.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing
from datetime import date
from typing import Any, ClassVar, TypeVar

CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
MAX_INT = 2**31 - 1  # the largest number a button may carry: PostgreSQL's INTEGER ids
SEPARATOR = ":"
_HEAD = re.compile(r"^([a-z]+)(\d*)$")
_INT = re.compile(r"^[0-9]{1,10}$")
_DATE = re.compile(r"^\d{8}$")

B = TypeVar("B", bound="CallbackData")

_registry: dict[str, type[CallbackData]] = {}


@dataclasses.dataclass(frozen=True)
class Expired:
    """Data of a button from an older format or version: the message is out of date."""

    prefix: str


@dataclasses.dataclass(frozen=True)
class Malformed:
    """Data that no version of the bot wrote: tampered with, forged, or out of range."""

    data: str


class CallbackData:
    """Base of every button's data; subclasses are frozen dataclasses (see the module doc)."""

    prefix: ClassVar[str]
    version: ClassVar[int]
    _fields: ClassVar[tuple[tuple[str, Any], ...]]

    def __init_subclass__(cls, *, prefix: str, version: int = 1, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not re.fullmatch(r"[a-z]{1,6}", prefix):
            raise ValueError(f"callback prefix {prefix!r}: 1 to 6 lowercase letters")
        if prefix in _registry and _registry[prefix].__qualname__ != cls.__qualname__:
            raise ValueError(f"callback prefix {prefix!r} is taken by {_registry[prefix]}")
        cls.prefix = prefix
        cls.version = version
        _registry[prefix] = cls

    @classmethod
    def _field_types(cls) -> tuple[tuple[str, Any], ...]:
        cached = cls.__dict__.get("_fields_cache")
        if cached is None:
            hints = typing.get_type_hints(cls)
            cached = tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            cls._fields_cache = cached  # type: ignore[attr-defined]
        return typing.cast(tuple[tuple[str, Any], ...], cached)

    def encode(self) -> str:
        """The button's callback_data; ValueError when a value cannot be written or it is over
        64 bytes (a bug in the caller, never a user's doing)."""
        parts = [f"{self.prefix}{self.version}"]
        for name, kind in self._field_types():
            parts.append(_write(getattr(self, name), kind, name))
        data = SEPARATOR.join(parts)
        if len(data.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls: type[B], data: object) -> B | None:
        """This kind's button from `data`, or None when the data is anything else."""
        found = decode(data)
        return found if isinstance(found, cls) else None


def _prefix_of(data: str) -> str | None:
    head = _HEAD.match(data.split(SEPARATOR, 1)[0])
    return head.group(1) if head else None


def _write(value: Any, kind: Any, name: str) -> str:
    if isinstance(value, enum.Enum):
        text = str(value.value)
    elif isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int):
        if not 0 <= value <= MAX_INT:
            raise ValueError(f"{name}={value} out of range")
        text = str(value)
    elif isinstance(value, date):
        text = value.strftime("%Y%m%d")
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"{name}: cannot write {type(value).__name__}")
    if SEPARATOR in text:
        raise ValueError(f"{name}={text!r} contains {SEPARATOR!r}")
    return text


def _read(text: str, kind: Any) -> Any:
    """The value of one field, or raise ValueError."""
    origin = typing.get_origin(kind)
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(kind)):
        raise TypeError("optional fields are not supported; use a sentinel value")
    if kind is bool:
        if text not in ("0", "1"):
            raise ValueError(text)
        return text == "1"
    if kind is int:
        if not _INT.match(text) or int(text) > MAX_INT:
            raise ValueError(text)
        return int(text)
    if kind is date:
        if not _DATE.match(text):
            raise ValueError(text)
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(text)
    if kind is str:
        return text
    if origin is typing.Literal:
        if text not in typing.get_args(kind):
            raise ValueError(text)
        return text
    raise TypeError(f"unsupported field type {kind!r}")


def decode(data: object) -> CallbackData | Expired | Malformed:
    """The button `data` belongs to; Expired for an older format; Malformed otherwise."""
    if not isinstance(data, str):
        return Malformed(repr(data)[:80])
    parts = data.split(SEPARATOR)
    head = _HEAD.match(parts[0])
    if head is None:
        return Malformed(data)
    prefix, version = head.group(1), head.group(2)
    kind = _registry.get(prefix)
    if kind is None:
        return Malformed(data)
    if not version or int(version) != kind.version:
        return Expired(prefix)
    fields = kind._field_types()
    if len(parts) - 1 != len(fields):
        return Malformed(data)
    try:
        values = [
            _read(text, field_kind) for text, (_, field_kind) in zip(parts[1:], fields, strict=True)
        ]
    except ValueError:
        return Malformed(data)
    return kind(*values)


def known_prefixes() -> dict[str, type[CallbackData]]:
    """Every registered kind of button by prefix (for tests and the stale-button fallback)."""
    return dict(_registry)
