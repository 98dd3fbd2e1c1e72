"""Settings are validated at start-up with one clear line, and `houqin run` needs a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from school.settings import SettingsError, load_settings, require_token


def test_defaults_need_no_environment() -> None:
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.language.value == "zh_CN"


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("timezone", "Mars/Olympus", "TIMEZONE"),
        ("language", "fr", "LANGUAGE"),
        ("database_url", "mysql://x", "DATABASE_URL"),
        ("log_level", "LOUD", "LOG_LEVEL"),
        ("school_profile", "/nonexistent/school.toml", "SCHOOL_PROFILE"),
    ],
)
def test_bad_setting_names_itself(field: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **{field: value})
    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_plain_urls_get_async_drivers() -> None:
    assert load_settings(_env_file=None, database_url="postgresql://u@h/db").database_url == (
        "postgresql+asyncpg://u@h/db"
    )


def test_missing_token_is_explained() -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        require_token(load_settings(_env_file=None))


def _houqin(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_run_without_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _houqin("run", tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_timezone_stops_start_up(tmp_path: Path) -> None:
    result = _houqin("run", tmp_path=tmp_path, TELEGRAM_BOT_TOKEN="1:x", TIMEZONE="Nowhere/City")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "TIMEZONE" in result.stderr
