"""Loading a school profile from its TOML file, and saying everything wrong with it at once.

Every mistake gives one error with the file and line it is on, e.g.
``my-school.toml:42: posts[3].name: missing required key``: the structure (types, required
and unknown keys, formats) and the references across parts (a post, category or checklist
item that does not exist) are checked in the same pass. A misspelt key is one error that
names the key it probably meant; that key is then not also reported missing.
Errors read in English (the message ids) or, rendered with :meth:`ProfileError.render`, in
the operator's language.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, TypeAdapter, ValidationError

from school.cross_checks import Problem, cross_check, dotted
from school.i18n import DEFAULT_LANGUAGE, N_, normalize_language
from school.profile_fields import Loc
from school.profile_messages import Message, ProfileValueError, quoted
from school.profile_model import SchoolProfile
from school.settings import Settings
from school.toml_lines import LineLocator


@dataclass(frozen=True)
class ProfileProblem:
    """One mistake in a profile file: where it is and what is wrong."""

    file: str
    line: int | None
    path: str
    message: Message

    def render(self, language: str | None = None) -> str:
        """``file:line: path: message`` in ``language`` (None: English message ids)."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = self.message.render(language)
        return f"{where}: {self.path}: {text}" if self.path else f"{where}: {text}"


class ProfileError(Exception):
    """A profile failed to load; ``problems`` say where and why, ``errors`` as English lines."""

    def __init__(self, problems: list[ProfileProblem]) -> None:
        self.problems = problems
        self.errors = self.render()
        super().__init__("\n".join(self.errors))

    def render(self, language: str | None = None) -> list[str]:
        """One ``file:line: path: message`` line per mistake, in ``language``."""
        return [problem.render(language) for problem in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.errors)


# --------------------------------------------------------------------------- reading the file

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def _read(path: Path) -> tuple[dict[str, Any], str]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = Message(N_("cannot read profile: {error}"), error=exc)
        raise ProfileError([ProfileProblem(name, None, "", message)]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        m = _TOML_POSITION.search(detail)
        line = getattr(exc, "lineno", None)
        if m and m.group(1):
            line = int(m.group(1))
            detail = detail[: m.start()] + f" (column {m.group(2)})"
        elif m:
            detail = detail[: m.start()] + " (at end of file)"
            line = text.count("\n") + 1
        message = Message(N_("TOML syntax error: {error}"), error=detail)
        raise ProfileError([ProfileProblem(name, line or 1, "", message)]) from exc
    return data, text


# --------------------------------------------------------------------------- structural errors

# pydantic's messages by error type, as message ids (parameters from the error's context).
_PYDANTIC_MESSAGES = {
    "model_type": N_("Input should be a table (a dictionary)"),
    "dict_type": N_("Input should be a valid dictionary"),
    "list_type": N_("Input should be a valid list"),
    "string_type": N_("Input should be a valid string"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number"),
    "date_type": N_("Input should be a valid date"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD, {error}"),
    "date_from_datetime_parsing": N_("Input should be a valid date or datetime, {error}"),
    "date_from_datetime_inexact": N_("Input should be a date without a time"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "too_short": N_("should have at least {min_length} item(s), not {actual_length}"),
    "too_long": N_("should have at most {max_length} item(s), not {actual_length}"),
    "string_too_short": N_("String should have at least {min_length} character(s)"),
    "string_too_long": N_("String should have at most {max_length} character(s)"),
    "literal_error": N_("Input should be {expected}"),
}


def _model_for(loc: Loc) -> type[BaseModel] | None:
    """The model class addressed by a pydantic error location, for "did you mean" hints."""
    model: type[BaseModel] = SchoolProfile
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        found = _nested_model(info.annotation)
        if found is None:
            return None
        model = found
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _nested_model(typing.get_args(annotation)[0])
    if origin in (list, dict, Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


def _clean_loc(loc: Iterable[Any]) -> Loc:
    # Drop union/function tags pydantic inserts (e.g. "function-plain[...]", "list[str]").
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\]()]", str(p)))


def _at(data: Any, loc: Loc) -> Any:
    """The raw value at ``loc`` in the parsed TOML (None when it is not there)."""
    for part in loc:
        if isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


def _shown(value: Any) -> Any:
    """A limit from pydantic's context as its own message shows it (0, not 0.0)."""
    return f"{value:g}" if isinstance(value, float) else value


def _message(error: Any) -> Message:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), ProfileValueError):
        return ctx["error"].message
    if kind == "value_error":
        return Message(str(ctx.get("error", error["msg"])))
    if kind == "missing":
        return Message(N_("missing required key"))
    if kind in _PYDANTIC_MESSAGES:
        return Message(_PYDANTIC_MESSAGES[kind], **{k: _shown(v) for k, v in ctx.items()})
    return Message(str(error["msg"]))


def _unknown_key(loc: Loc, data: dict[str, Any], meant: set[Loc]) -> Message:
    """The error for a key the profile does not know; a misspelling's meaning goes to meant."""
    model = _model_for(loc[:-1]) if isinstance(loc[-1], str) else None
    if model is None:
        return Message(N_("unknown key"))
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if not close:
        return Message(N_("unknown key (allowed: {names})"), names=", ".join(allowed))
    table = _at(data, loc[:-1])
    if isinstance(table, dict) and close[0] not in table:
        meant.add((*loc[:-1], close[0]))
    return Message(N_("unknown key; did you mean {key}?"), key=quoted(close[0]))


def _structural(exc: ValidationError, data: dict[str, Any]) -> tuple[list[Problem], set[Loc]]:
    """One problem per mistake, and the locations whose values could not be read."""
    errors = [(_clean_loc(err["loc"]), err) for err in exc.errors()]
    meant: set[Loc] = set()  # keys a misspelt key stands for: not also reported missing
    problems = [
        (loc, _unknown_key(loc, data, meant))
        for loc, err in errors
        if err["type"] == "extra_forbidden" and loc
    ]
    unread = set(meant)  # a meant key's default is not what the school wrote
    for loc, err in errors:
        if err["type"] == "extra_forbidden" and loc:
            continue
        unread.add(loc)
        if err["type"] != "missing" or loc not in meant:
            problems.append((loc, _message(err)))
    return problems, unread


# --------------------------------------------------------------------------- what could be read


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(model.model_fields[name].rebuild_annotation())


def _readable_part(model: type[BaseModel], data: Any, loc: Loc, unread: set[Loc]) -> Any:
    """``model`` built from what of ``data`` could be read; what could not is added to unread.

    The result is not validated as a whole: it is only for the cross-reference checks, which
    look at nothing at or under an unread location.
    """
    values: dict[str, Any] = {}
    if isinstance(data, dict):
        for name, info in model.model_fields.items():
            here = (*loc, name)
            if here in unread or name not in data:
                continue
            raw = data[name]
            nested = _nested_model(info.annotation)
            many = typing.get_origin(info.annotation) is list
            if nested is not None and not many and isinstance(raw, dict):
                values[name] = _readable_part(nested, raw, here, unread)
            elif nested is not None and many and isinstance(raw, list):
                values[name] = [
                    _readable_part(nested, item, (*here, i), unread) for i, item in enumerate(raw)
                ]
            else:
                try:
                    values[name] = _adapter(model, name).validate_python(raw)
                except ValidationError:
                    unread.add(here)
    return model.model_construct(**values)


# --------------------------------------------------------------------------- loading


def _problems(data: dict[str, Any]) -> tuple[SchoolProfile | None, list[Problem]]:
    try:
        profile = SchoolProfile.model_validate(data, context={"defer_cross_checks": True})
    except ValidationError as exc:
        problems, unread = _structural(exc, data)
        readable = _readable_part(SchoolProfile, data, (), unread)
        return None, problems + cross_check(readable, unread)
    return profile, profile.problems()


def load_profile(path: str | Path) -> SchoolProfile:
    """Load and validate a profile; raise :class:`ProfileError` naming every mistake's line."""
    path = Path(path)
    data, text = _read(path)
    profile, problems = _problems(data)
    if profile is not None and not problems:
        return profile
    locator = LineLocator(text)
    located = [
        ProfileProblem(path.name, locator.line_of(loc), dotted(loc) or "(root)", message)
        for loc, message in problems
    ]
    located.sort(key=lambda problem: problem.line or 0)
    raise ProfileError(located)


def check_profile(path: str | Path, language: str | None = None) -> list[str]:
    """Errors of a profile file (empty when valid), for ``houqin profile check FILE``.

    ``language`` is the operator's (``zh_CN``, ``en``); None gives the English message ids.
    """
    try:
        load_profile(path)
    except ProfileError as exc:
        return exc.render(language)
    return []


def operator_language() -> str:
    """The language the operator reads: HOUQIN_LANGUAGE (environment or .env), else Chinese.

    Settings that cannot be read (a bad HOUQIN_DATABASE_URL, say) do not stop a profile check:
    its errors then read in the default language.
    """
    try:
        return normalize_language(Settings().language)
    except ValidationError:
        return DEFAULT_LANGUAGE


def default_profile_path() -> Path:
    """Path of the bundled default profile."""
    return Path(__file__).parent / "profiles" / "default.toml"


@functools.cache
def default_profile() -> SchoolProfile:
    """The bundled default profile (cached)."""
    return load_profile(default_profile_path())
