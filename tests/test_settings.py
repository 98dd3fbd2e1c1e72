"""Settings are validated at start-up with one clear line, and `houqin run` needs a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from school.settings import SettingsError, isolated_settings, load_settings, require_token


def test_defaults_need_no_environment() -> None:
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.language.value == "zh_CN"


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("timezone", "Mars/Olympus", "HOUQIN_TIMEZONE"),
        ("language", "fr", "HOUQIN_LANGUAGE"),
        ("database_url", "mysql://x", "HOUQIN_DATABASE_URL"),
        ("log_level", "LOUD", "HOUQIN_LOG_LEVEL"),
        ("school_profile", "/nonexistent/school.toml", "HOUQIN_SCHOOL_PROFILE"),
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
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "HOUQIN_TELEGRAM_", "HOUQIN_DATABASE_"))
    }
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
    result = _houqin(
        "run", tmp_path=tmp_path, HOUQIN_TELEGRAM_BOT_TOKEN="1:x", HOUQIN_TIMEZONE="Nowhere/City"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "HOUQIN_TIMEZONE" in result.stderr


def test_gettexts_language_variable_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ubuntu sets LANGUAGE=zh_CN:zh for gettext in Chinese sessions: it must not stop the bot
    nor choose its language; HOUQIN_LANGUAGE does."""
    monkeypatch.setenv("LANGUAGE", "zh_CN:zh")
    assert load_settings(_env_file=None).language.value == "zh_CN"
    monkeypatch.setenv("LANGUAGE", "en")
    assert load_settings(_env_file=None).language.value == "zh_CN"
    monkeypatch.setenv("HOUQIN_LANGUAGE", "en")
    assert load_settings(_env_file=None).language.value == "en"


def test_old_names_still_work_with_one_deprecation_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.delenv("HOUQIN_TIMEZONE", raising=False)
    monkeypatch.setenv("TIMEZONE", "Asia/Urumqi")
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=debug\nHOUQIN_DATABASE_URL=sqlite:///x.db\n")
    with caplog.at_level("WARNING", logger="school.settings"):
        settings = load_settings(_env_file=str(env_file))
    assert settings.timezone == "Asia/Urumqi"
    assert settings.log_level == "DEBUG"
    assert settings.database_url == "sqlite:///x.db"
    deprecated = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert "the setting TIMEZONE is deprecated: rename it HOUQIN_TIMEZONE" in deprecated
    assert "the setting LOG_LEVEL is deprecated: rename it HOUQIN_LOG_LEVEL" in deprecated
    assert len(deprecated) == len(set(deprecated))


def test_the_new_name_wins_over_the_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEZONE", "Asia/Urumqi")
    monkeypatch.setenv("HOUQIN_TIMEZONE", "Asia/Shanghai")
    assert load_settings(_env_file=None).timezone == "Asia/Shanghai"


def test_scale_out_needs_postgresql_and_a_webhook() -> None:
    with pytest.raises(ValidationError, match="needs PostgreSQL"):
        isolated_settings(scale_out=True, mode="webhook")
    with pytest.raises(ValidationError, match="needs MODE=webhook"):
        isolated_settings(scale_out=True, database_url="postgresql://db/houqin")
    settings = isolated_settings(
        scale_out=True, mode="webhook", database_url="postgresql://db/houqin"
    )
    assert settings.scale_out
