"""Where the bot's time goes: a breakdown of a pyinstrument session saved by the benchmark.

    python -m bench.throughput --profile DIR      # saves DIR/houqin-<db>-<round>.pyisession
    python -m bench.where_time_goes DIR/houqin-sqlite-0.pyisession

Each sample of the event loop's thread (1 ms apart; time waiting in epoll is idle and left
out) is put in one row by what the bot was doing (the first of these found on its stack: the
persistence write after an update, loading the person, filing a report, the outbox's
delivery, other handler code, python-telegram-bot's own dispatch) and in one column
by the library its innermost frame belongs to (SQLAlchemy's ORM, its SQL compiler, its
engine, the greenlet bridge, aiosqlite/asyncpg, asyncio, aiohttp, python-telegram-bot, ...).
With `sqlite+aiosqlite:///`, waiting for the GIL while aiosqlite's thread runs counts where
the event loop waited for it (handing work to that thread: `SimpleQueue.put`); the default
`sqlite:///` runs SQLite on the loop's thread (its C calls fall under "other").
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from pyinstrument.session import Session

IDLE = ("epoll", "select.", "_run_once\x00")

# SQLAlchemy's async layer runs its sync code in a greenlet, whose stack does not show the
# coroutine that called it: that time is a row of its own.
GREENLET = "SQLAlchemy inside its greenlet (caller unseen)"
# What the bot was doing: (row, a piece of a frame's identifier), the first row found wins.
ACTIVITIES = [
    ("persistence write after each update", "update_persistence\x00"),
    ("persistence write after each update", "persistence.py"),
    ("loading the person (identify)", "identify\x00"),
    ("filing a report (its transaction)", "file_report\x00"),
    ("outbox delivery (background)", "notices/outbox.py"),
    ("handlers and actions (the forms' steps)", "/handlers/"),
    ("python-telegram-bot: fetching and dispatching", "/telegram/"),
    ("Bot API HTTP client", "telegram_http.py"),
]

LIBRARIES = [
    ("ORM", ("sqlalchemy/orm/", "sqlmodel/")),
    ("SQL compile", ("sqlalchemy/sql/",)),
    ("SQLAlchemy engine/pool", ("sqlalchemy/engine/", "sqlalchemy/pool/", "sqlalchemy/dialects/")),
    ("greenlet bridge", ("sqlalchemy/util/_concurrency", "sqlalchemy/ext/asyncio/", "greenlet")),
    ("driver thread hop", ("aiosqlite/", "SimpleQueue", "queue.py", "threading.py")),
    ("asyncpg", ("asyncpg/",)),
    ("Houqin code", ("/handlers/", "/notices/", "/actions/", "/storage/", "/bot/", "/school/")),
    ("aiohttp + sockets", ("aiohttp/", "yarl/", "multidict/", "socket.")),
    ("python-telegram-bot", ("/telegram/",)),
    ("json", ("json/",)),
    ("logging", ("logging/",)),
    ("asyncio", ("asyncio/",)),
    ("pydantic", ("pydantic",)),
]


def library(frame: str) -> str:
    for name, pieces in LIBRARIES:
        if any(piece in frame for piece in pieces):
            return name
    return "other"


def activity(stack: list[str]) -> str:
    for name, piece in ACTIVITIES:
        if any(piece in frame for frame in stack):
            return name
    if any("sqlalchemy/" in frame for frame in stack):
        return GREENLET
    return "event loop and other"


def breakdown(path: str) -> str:
    session = Session.load(path)
    rows: defaultdict[str, float] = defaultdict(float)
    cells: defaultdict[tuple[str, str], float] = defaultdict(float)
    columns: defaultdict[str, float] = defaultdict(float)
    busy = 0.0
    for stack, seconds in session.frame_records:
        leaf = stack[-1] if stack else ""
        if any(marker in leaf for marker in IDLE):
            continue
        busy += seconds
        row, column = activity(stack), library(leaf)
        rows[row] += seconds
        columns[column] += seconds
        cells[row, column] += seconds
    top = [name for name, _ in sorted(columns.items(), key=lambda item: -item[1])[:7]]
    lines = [
        f"{path}: {busy:.1f} s busy of {session.duration:.1f} s "
        f"(columns: % of busy time by the innermost frame's library)",
        f"{'':44} {'total':>6} " + " ".join(f"{name[:11]:>11}" for name in top),
    ]
    for row, seconds in sorted(rows.items(), key=lambda item: -item[1]):
        shares = " ".join(f"{cells[row, c] / busy * 100:11.1f}" for c in top)
        lines.append(f"{row[:44]:44} {seconds / busy * 100:5.1f}% {shares}")
    lines.append(
        f"{'all':44} {100:5.1f}% " + " ".join(f"{columns[c] / busy * 100:11.1f}" for c in top)
    )
    rest = [
        f"{name} {value / busy * 100:.1f}%"
        for name, value in sorted(columns.items(), key=lambda item: -item[1])[7:]
    ]
    if rest:
        lines.append("other columns: " + ", ".join(rest))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", nargs="+")
    for session_path in parser.parse_args().sessions:
        print(breakdown(session_path))
