"""What the school profile's checks say: messages kept as an English id and parameters, so
the same mistake reads in the operator's language (``houqin profile check``) or in English
(the id itself, as logs and tests see it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from school.i18n import translator


class Message:
    """A message id with ``{named}`` parameters; parameters may be messages themselves."""

    __slots__ = ("params", "text")

    def __init__(self, text: str, /, **params: Any) -> None:
        self.text = text
        self.params = params

    def render(self, language: str | None = None) -> str:
        """The message in ``language``; None gives the English id, filled in."""
        translate: Callable[[str], str] = translator(language) if language else _untranslated
        values = {
            name: value.render(language) if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        return translate(self.text).format(**values)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Message({self.render()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _untranslated(text: str) -> str:
    return text


class ProfileValueError(ValueError):
    """A value in the profile is wrong; pydantic reports it as a ``value_error``."""

    def __init__(self, text: str, /, **params: Any) -> None:
        self.message = Message(text, **params)
        super().__init__(str(self.message))


def quoted(value: object) -> str:
    """A value as the messages show it: its Python repr ('x', 3)."""
    return repr(value)
