"""Translations through gettext catalogs (Babel).

Message ids in the code are English; `school/locales/<lang>/LC_MESSAGES/houqin.po` holds the
translations. The .po files are compiled in memory when first used, so there is no build step.
`make messages` re-extracts the ids and updates the catalogs.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "houqin"
LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (module-level constants)."""
    return message


def normalize_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map a Telegram language_code or a user's choice to a shipped catalog."""
    if not code:
        return default
    code = code.replace("-", "_").lower()
    if code.startswith("zh"):
        return "zh_CN"
    if code.startswith("en"):
        return "en"
    return default


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog for a language (English ids fall through untranslated)."""
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        return _gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def translator(language: str) -> Translate:
    """A gettext function for one language."""
    return translations(normalize_language(language)).gettext


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    """Plural-aware translation."""
    return translations(normalize_language(language)).ngettext(singular, plural, n)
