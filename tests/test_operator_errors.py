"""A mistake in the settings stops a command with one line naming the cause and the fix, exit
code 2: no traceback, no "Unclosed client session"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _houqin(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOUQIN_", "TELEGRAM_"))}
    clean.pop("DATABASE_URL", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "Unclosed" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("houqin:")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/x", "cannot reach PostgreSQL at 127.0.0.1:1"),
        ("sqlite+aiosqlite:////nonexistent/folder/houqin.db", "'/nonexistent/folder' of the"),
    ],
)
def test_a_database_that_cannot_be_reached_is_named(url: str, cause: str, tmp_path: Path) -> None:
    line = _one_line(_houqin("migrate", cwd=tmp_path, HOUQIN_DATABASE_URL=url))
    assert line.startswith("houqin: HOUQIN_DATABASE_URL:")
    assert cause in line


def test_a_backup_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'houqin.db'}"
    assert _houqin("migrate", cwd=tmp_path, HOUQIN_DATABASE_URL=url).returncode == 0
    line = _one_line(
        _houqin("backup", str(tmp_path / "nowhere" / "b.db"), cwd=tmp_path, HOUQIN_DATABASE_URL=url)
    )
    assert "does not exist; create it first" in line
