"""Which line of a TOML file a key path is written on, so a profile's errors name the line."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from school.profile_fields import Loc


class LineLocator:
    """Best-effort map from TOML key paths to the line they are written on."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[Loc, int] = {}
        self._arrays: dict[Loc, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        try:
            self._parse()
        except (IndexError, ValueError):  # pragma: no cover - input was valid TOML
            pass

    def line_of(self, loc: Iterable[str | int]) -> int:
        """Line of ``loc`` or of its nearest recorded parent (1 if none)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    # ---- scanning

    def _line(self) -> int:
        return bisect.bisect_left(self._newlines, self.pos) + 1

    def _cur(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _record(self, path: Loc, line: int) -> None:
        for i in range(1, len(path) + 1):
            self.lines.setdefault(path[:i], line)

    def _skip(self, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t" or (newlines and c in "\r\n"):
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                break

    def _parse(self) -> None:
        current: Loc = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return
            line = self._line()
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                current = self._resolve(self._key(), array=True)
                self._skip(newlines=False)
                self.pos += 2
                self._record(current, line)
            elif self._cur() == "[":
                self.pos += 1
                current = self._resolve(self._key(), array=False)
                self._skip(newlines=False)
                self.pos += 1
                self._record(current, line)
            else:
                start = self.pos
                keys = self._key()
                self._skip(newlines=False)
                if self._cur() == "=":
                    self.pos += 1
                self._record(current + keys, line)
                self._value(current + keys)
                if self.pos == start:
                    self.pos += 1

    def _resolve(self, keys: tuple[str, ...], array: bool) -> Loc:
        path: list[str | int] = []
        for i, k in enumerate(keys):
            path.append(k)
            t = tuple(path)
            if array and i == len(keys) - 1:
                n = self._arrays.get(t, 0)
                self._arrays[t] = n + 1
                path.append(n)
            elif t in self._arrays:
                path.append(self._arrays[t] - 1)
        return tuple(path)

    def _key(self) -> tuple[str, ...]:
        keys: list[str] = []
        while True:
            self._skip(newlines=False)
            c = self._cur()
            if c in ('"', "'"):
                keys.append(self._string())
            else:
                m = re.compile(r"[^\s.=\[\]\"'#{},]+").match(self.text, self.pos)
                if not m:
                    break
                keys.append(m.group(0))
                self.pos = m.end()
            self._skip(newlines=False)
            if self._cur() != ".":
                break
            self.pos += 1
        return tuple(keys)

    def _string(self) -> str:
        text = self.text
        quote = text[self.pos]
        if text.startswith(quote * 3, self.pos):
            end = text.find(quote * 3, self.pos + 3)
            end = len(text) if end < 0 else end
            while text.startswith(quote, end + 3):  # up to two quotes may close the string
                end += 1
            value = text[self.pos + 3 : end]
            self.pos = end + 3
            return value
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(text) and text[self.pos] != quote and text[self.pos] != "\n":
            c = text[self.pos]
            if c == "\\" and quote == '"':
                chars.append(self._escape())
                continue
            chars.append(c)
            self.pos += 1
        self.pos += 1
        return "".join(chars)

    def _escape(self) -> str:
        text = self.text
        kind = text[self.pos + 1 : self.pos + 2]
        simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\"}
        if kind in ("u", "U"):
            width = 4 if kind == "u" else 8
            digits = text[self.pos + 2 : self.pos + 2 + width]
            self.pos += 2 + width
            return chr(int(digits, 16))
        self.pos += 2
        return simple.get(kind, kind)

    def _value(self, path: Loc) -> None:
        self._skip(newlines=False)
        c = self._cur()
        if c == "[":
            self._array(path)
        elif c == "{":
            self._table(path)
        elif c in ('"', "'"):
            self._string()
        else:
            m = re.compile(r"[^,\]}\r\n#]*").match(self.text, self.pos)
            self.pos = m.end() if m else self.pos

    def _array(self, path: Loc) -> None:
        self.pos += 1
        index = 0
        while self.pos < len(self.text):
            self._skip(newlines=True)
            if self._cur() == "]":
                self.pos += 1
                return
            start = self.pos
            self._record((*path, index), self._line())
            self._value((*path, index))
            self._skip(newlines=True)
            if self._cur() == ",":
                self.pos += 1
            if self.pos == start:
                self.pos += 1
            index += 1

    def _table(self, path: Loc) -> None:
        self.pos += 1
        while self.pos < len(self.text):
            self._skip(newlines=True)
            if self._cur() == "}":
                self.pos += 1
                return
            start = self.pos
            line = self._line()
            keys = self._key()
            self._skip(newlines=False)
            if self._cur() == "=":
                self.pos += 1
            self._record(path + keys, line)
            self._value(path + keys)
            self._skip(newlines=True)
            if self._cur() == ",":
                self.pos += 1
            if self.pos == start:
                self.pos += 1
