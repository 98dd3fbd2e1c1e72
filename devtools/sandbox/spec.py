"""Bot API reference data (bot-api.json) and the request checks Telegram's server performs."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("bot-api.json")
# python-telegram-bot's Defaults(parse_mode=...) sends parse_mode with every message method, also
# those that take no text (editMessageReplyMarkup); Telegram ignores a parameter a method does
# not have, and so does the sandbox for this one (every other unknown parameter is refused).
DEFAULTS_SENT_EVERYWHERE = frozenset({"parse_mode"})

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

# Tags Telegram accepts with parse_mode=HTML, mapped to the attributes each may carry.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "tg-emoji": frozenset({"emoji-id"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
}

# Inline keyboard button fields that give the button an action.
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_TAG_RE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z][A-Za-z0-9-]*"
    r"(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*(/?)>"
)
_ATTR_RE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


class HtmlParseError(ValueError):
    """Raised for text Telegram would refuse with "can't parse entities"."""


def parse_html(text: str) -> str:
    """Parse Telegram-flavoured HTML strictly and return the visible plain text."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "<":
            m = _TAG_RE.match(text, pos)
            offset = len(text[:pos].encode("utf-8"))
            if m is None:
                raise HtmlParseError(
                    f"Can't parse entities: unsupported start tag at byte offset {offset}"
                )
            closing, name, attrs, selfclose = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
            if name not in ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise HtmlParseError(
                    f'Can\'t parse entities: unsupported {kind} tag "{name}" '
                    f"at byte offset {offset}"
                )
            if closing:
                if not stack or stack[-1] != name:
                    expected = f' "{stack[-1]}"' if stack else ""
                    raise HtmlParseError(
                        f"Can't parse entities: can't find end tag corresponding to start tag"
                        f'{expected}; unexpected end tag "{name}" at byte offset {offset}'
                    )
                stack.pop()
            else:
                if selfclose:
                    raise HtmlParseError(
                        f'Can\'t parse entities: unsupported self-closing tag "{name}" '
                        f"at byte offset {offset}"
                    )
                _check_attrs(name, attrs, offset)
                stack.append(name)
            pos = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, pos)
            if m is None:
                offset = len(text[:pos].encode("utf-8"))
                raise HtmlParseError(
                    f"Can't parse entities: unsupported HTML entity at byte offset {offset}; "
                    "use &amp; for a literal '&'"
                )
            out.append(html.unescape(m.group(0)))
            pos = m.end()
        else:
            nxt = min((i for i in (text.find("<", pos), text.find("&", pos)) if i >= 0), default=n)
            out.append(text[pos:nxt])
            pos = nxt
    if stack:
        raise HtmlParseError(
            f"Can't parse entities: can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return "".join(out)


def _check_attrs(tag: str, attrs: str, offset: int) -> None:
    """Reject attributes Telegram does not support on ``tag``."""
    found = {m.group(1).lower(): (m.group(2) or "").strip("\"'") for m in _ATTR_RE.finditer(attrs)}
    for name in found:
        if name not in ALLOWED_TAGS[tag]:
            raise HtmlParseError(
                f'Can\'t parse entities: unsupported attribute "{name}" of tag "{tag}" '
                f"at byte offset {offset}"
            )
    if tag == "span" and found.get("class") != "tg-spoiler":
        raise HtmlParseError(
            f'Can\'t parse entities: tag "span" must have class "tg-spoiler" '
            f"at byte offset {offset}"
        )
    if tag == "a" and not found.get("href"):
        raise HtmlParseError(f'Can\'t parse entities: tag "a" needs href at byte offset {offset}')


_LOOSE_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")


def html_to_plain(text: str) -> str:
    """Strip tags and unescape entities leniently (for display of already-accepted text)."""
    return html.unescape(_LOOSE_TAG_RE.sub("", text))


def visible_text(text: str, parse_mode: str | None) -> str:
    """Return the text a user would see; raises :class:`HtmlParseError` on bad HTML."""
    if parse_mode and parse_mode.lower() == "html":
        return parse_html(text)
    if parse_mode and parse_mode.lower() in ("markdown", "markdownv2"):
        return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)[*_`~|]", "", text))
    return text


def text_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class MethodSpec:
    """One Bot API method: canonical name, parameter types and required parameters."""

    name: str
    fields: dict[str, list[str]]
    required: frozenset[str]
    returns: list[str] = field(default_factory=list)


class BotApiSpec:
    """The Bot API reference, used to validate requests like Telegram does."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = str(data.get("version", ""))
        self.methods: dict[str, MethodSpec] = {}
        self._by_lower: dict[str, str] = {}
        for name, raw in data["methods"].items():
            fields = {f["name"]: list(f.get("types", [])) for f in raw.get("fields", [])}
            required = frozenset(f["name"] for f in raw.get("fields", []) if f.get("required"))
            self.methods[name] = MethodSpec(name, fields, required, list(raw.get("returns", [])))
            self._by_lower[name.lower()] = name
        self.types: dict[str, Any] = data.get("types", {})

    @classmethod
    def load(cls) -> BotApiSpec:
        """Load (once) the spec shipped next to this module."""
        return _load_spec()

    def resolve(self, method: str) -> MethodSpec | None:
        """Find a method by case-insensitive name."""
        name = self._by_lower.get(method.lower())
        return self.methods[name] if name else None

    def param_types(self, method: str, param: str) -> list[str] | None:
        """Spec types of one parameter, or None if unknown."""
        spec = self.resolve(method)
        return spec.fields.get(param) if spec else None

    def validate(self, method: str, params: dict[str, Any]) -> list[str]:
        """Return human-readable errors for a call; an empty list means it is acceptable."""
        spec = self.resolve(method)
        if spec is None:
            return [f"unknown method {method!r}"]
        errors: list[str] = []
        for name in sorted(spec.required - params.keys()):
            errors.append(f"parameter {name!r} is required")
        for name in params:
            if name not in spec.fields and name not in DEFAULTS_SENT_EVERYWHERE:
                errors.append(f"unknown parameter {name!r} for method {spec.name}")
        errors.extend(self._content_errors(spec.name, params))
        return errors

    def _content_errors(self, method: str, params: dict[str, Any]) -> list[str]:
        """Checks of parameter values that Telegram's server performs."""
        errors: list[str] = []
        parse_mode = params.get("parse_mode")
        parse_mode = parse_mode if isinstance(parse_mode, str) else None
        if "text" in params and method in ("sendMessage", "editMessageText"):
            errors.extend(_text_errors(str(params["text"]), parse_mode, MAX_TEXT, "message text"))
        if isinstance(params.get("caption"), str):
            errors.extend(_text_errors(params["caption"], parse_mode, MAX_CAPTION, "caption"))
        media = params.get("media")
        items = media if isinstance(media, list) else [media] if isinstance(media, dict) else []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("caption"), str):
                mode = item.get("parse_mode")
                errors.extend(
                    _text_errors(
                        item["caption"],
                        mode if isinstance(mode, str) else None,
                        MAX_CAPTION,
                        "caption",
                    )
                )
        errors.extend(keyboard_errors(params.get("reply_markup")))
        return errors


def _text_errors(text: str, parse_mode: str | None, limit: int, what: str) -> list[str]:
    """Errors for a message text or caption."""
    try:
        plain = visible_text(text, parse_mode)
    except HtmlParseError as exc:
        return [str(exc)]
    if what == "message text" and not plain.strip():
        return ["message text is empty"]
    if text_length(plain) > limit:
        return ["message caption is too long" if what == "caption" else "message is too long"]
    return []


def keyboard_errors(markup: Any) -> list[str]:
    """Errors in an inline keyboard (callback_data size, buttons without an action)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return []
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        return ['field "inline_keyboard" of the InlineKeyboardMarkup must be an Array']
    errors: list[str] = []
    for row in rows:
        if not isinstance(row, list):
            return ["inline keyboard rows must be Arrays"]
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                errors.append("can't parse inline keyboard button: text is required")
                continue
            data = button.get("callback_data")
            if isinstance(data, str) and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                errors.append("BUTTON_DATA_INVALID")
            if not any(key in button for key in BUTTON_ACTIONS):
                errors.append(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
    return errors


@cache
def _load_spec() -> BotApiSpec:
    return BotApiSpec(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
