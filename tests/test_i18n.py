"""Every user-facing string has a Chinese translation, and placeholders survive translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from school.i18n import LOCALES_DIR, normalize_language, translator

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "N_": None, "t_": None, "gettext": None}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _message_ids() -> set[str]:
    ids: set[str] = set()
    for package in ("bot", "handlers", "scheduler", "actions", "notices", "storage", "school"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_message_has_a_chinese_translation() -> None:
    with (LOCALES_DIR / "zh_CN" / "LC_MESSAGES" / "houqin.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh_CN")
    translated = {m.id: m.string for m in catalog if m.id and m.string}
    missing = sorted(_message_ids() - translated.keys())
    assert missing == [], "run `make messages` and translate:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders() -> None:
    with (LOCALES_DIR / "zh_CN" / "LC_MESSAGES" / "houqin.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh_CN")
    for message in catalog:
        if message.id and message.string:
            assert set(PLACEHOLDER.findall(str(message.id))) == set(
                PLACEHOLDER.findall(str(message.string))
            ), message.id


def test_languages() -> None:
    assert translator("zh_CN")("Teacher") == "教师"
    assert translator("en")("Teacher") == "Teacher"
    assert normalize_language("zh-hans") == "zh_CN"
    assert normalize_language("en-GB") == "en"
    assert normalize_language("fr") == "zh_CN"
