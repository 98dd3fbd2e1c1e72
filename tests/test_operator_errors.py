"""A mistake in the settings stops a command with one line naming the cause and the fix, exit
code 2: no traceback, no "Unclosed client session"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.sandbox.server import BotApiSandbox


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
        ("sqlite:////nonexistent/folder/houqin.db", "'/nonexistent/folder' of the"),
    ],
)
def test_a_database_that_cannot_be_reached_is_named(url: str, cause: str, tmp_path: Path) -> None:
    line = _one_line(_houqin("migrate", cwd=tmp_path, HOUQIN_DATABASE_URL=url))
    assert line.startswith("houqin: HOUQIN_DATABASE_URL:")
    assert cause in line


def test_a_backup_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'houqin.db'}"
    assert _houqin("migrate", cwd=tmp_path, HOUQIN_DATABASE_URL=url).returncode == 0
    line = _one_line(
        _houqin("backup", str(tmp_path / "nowhere" / "b.db"), cwd=tmp_path, HOUQIN_DATABASE_URL=url)
    )
    assert "does not exist; create it first" in line


async def _houqin_async(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOUQIN_", "TELEGRAM_"))}
    clean.pop("DATABASE_URL", None)
    clean.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=clean,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


async def test_a_rejected_token_is_named(sandbox: BotApiSandbox, tmp_path: Path) -> None:
    result = await _houqin_async(
        "run",
        cwd=tmp_path,
        HOUQIN_TELEGRAM_BOT_TOKEN="999:not-the-sandboxs-token",
        HOUQIN_TELEGRAM_BASE_URL=sandbox.base_url,
        HOUQIN_DATABASE_URL=f"sqlite:///{tmp_path / 'houqin.db'}",
    )
    assert "HOUQIN_TELEGRAM_BOT_TOKEN: Telegram rejected the token" in _one_line(result)


def test_an_unreachable_bot_api_is_named(tmp_path: Path) -> None:
    line = _one_line(
        _houqin(
            "run",
            cwd=tmp_path,
            HOUQIN_TELEGRAM_BOT_TOKEN="1:abc",
            HOUQIN_TELEGRAM_BASE_URL="http://127.0.0.1:1/bot",
            HOUQIN_DATABASE_URL=f"sqlite:///{tmp_path / 'houqin.db'}",
        )
    )
    assert "HOUQIN_TELEGRAM_BASE_URL: cannot reach the Bot API at http://127.0.0.1:1/bot" in line
