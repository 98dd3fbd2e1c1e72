"""Reading a place, a repair category and an urgency out of free text ("实验楼3楼女厕漏水").

Matching ignores whitespace and case; numbers are not matched inside longer numbers
("3楼" is not found in "13楼"); floors are found written as "3楼", "3层", "3F", "三楼" or "三层".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from school.profile_sections import Building, RepairCategory, Urgency


class PlaceMatch(NamedTuple):
    """A place found in free text; floor and room may be unknown."""

    building: Building
    floor: str | None
    room: str | None


def normalize(text: str) -> str:
    """Text as matching compares it: without whitespace, lower case."""
    return re.sub(r"\s+", "", text).lower()


def match_category(categories: Sequence[RepairCategory], text: str) -> RepairCategory | None:
    """The category with the longest keyword in the text.

    Ties go to the keyword found earlier in the text (the object usually comes before
    the symptom: "冷柜不制冷"), then to more keyword hits, then to file order.
    """
    best: tuple[int, int, int, int] | None = None
    found: RepairCategory | None = None
    t = normalize(text)
    for i, cat in enumerate(categories):
        hits = [(len(k), -pos) for k in cat.keywords if (pos := t.find(normalize(k))) >= 0]
        if hits:
            length, neg_pos = max(hits)
            score = (length, neg_pos, len(hits), -i)
            if best is None or score > best:
                best, found = score, cat
    return found


def match_urgency(urgencies: Sequence[Urgency], text: str) -> Urgency | None:
    """The first urgency (most urgent first) with a keyword in the text, else None."""
    t = normalize(text)
    for urgency in urgencies:
        if any(normalize(k) in t for k in urgency.keywords):
            return urgency
    return None


def match_place(buildings: Iterable[Building], text: str) -> PlaceMatch | None:
    """Find building, floor and room named in free text ("实验楼3楼女厕…")."""
    t = normalize(text)
    best: tuple[int, int] | None = None
    found: Building | None = None
    span = (0, 0)
    for b in buildings:
        for name in b.names:
            pos = _find(t, normalize(name))
            if pos >= 0 and (best is None or (len(name), -pos) > best):
                best, found, span = (len(name), -pos), b, (pos, pos + len(normalize(name)))
    if found is None:
        return None
    rest = t[: span[0]] + " " + t[span[1] :]
    floor = _match_floor(found, rest)
    room: str | None = None
    if floor is not None:
        room = _longest_in(rest, found.rooms.get(floor, []))
    else:
        candidates = [
            (f, r)
            for f, rooms in found.rooms.items()
            for r in rooms
            if _find(rest, normalize(r)) >= 0
        ]
        if candidates:
            longest = max(len(r) for _, r in candidates)
            top = [(f, r) for f, r in candidates if len(r) == longest]
            if len(top) == 1:
                floor, room = top[0]
    return PlaceMatch(found, floor, room)


def _find(text: str, word: str) -> int:
    """Index of ``word`` in ``text`` not glued to other digits, or -1."""
    start = 0
    while word:
        pos = text.find(word, start)
        if pos < 0:
            return -1
        before = text[pos - 1] if pos else ""
        after = text[pos + len(word)] if pos + len(word) < len(text) else ""
        if not (word[0].isdigit() and before.isdigit()) and not (
            word[-1].isdigit() and after.isdigit()
        ):
            return pos
        start = pos + 1
    return -1


def _longest_in(text: str, words: Iterable[str]) -> str | None:
    hits = [w for w in words if _find(text, normalize(w)) >= 0]
    return max(hits, key=len) if hits else None


_CN_DIGITS = "零一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return head + "十" + (_CN_DIGITS[ones] if ones else "")


def _floor_variants(floor: str) -> list[str]:
    m = re.fullmatch(r"(\d+)\s*(楼|层|f|F)", floor.strip())
    if not m or not 0 < int(m.group(1)) < 100:
        return [floor]
    n = int(m.group(1))
    cn = _cn_number(n)
    return [floor, f"{n}楼", f"{n}层", f"{n}f", f"{cn}楼", f"{cn}层"]


def _match_floor(building: Building, text: str) -> str | None:
    best: tuple[int, str] | None = None
    for floor in building.floors:
        for variant in _floor_variants(floor):
            if _find(text, normalize(variant)) >= 0 and (best is None or len(variant) > best[0]):
                best = (len(variant), floor)
    return best[1] if best else None
