"""`houqin profile check FILE`: every mistake in one pass, one error each, with its line, in the
operator's language (Chinese unless the settings say English), exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from school.profile import ProfileError, check_profile, load_profile, operator_language
from school.settings import LEGACY_NAMES, PREFIX
from tests.test_profile import MINIMAL, line_of, write

# One structural mistake (a time that does not exist), one unknown post and one misspelt key.
THREE_MISTAKES = (
    MINIMAL.replace('name = "维修工"', 'nmae = "维修工"').replace(
        'default_post = "repair"', 'default_post = "repairman"'
    )
    + '\n[worklog]\nreminder_time = "25:00"\n'
)


def three_errors_in_chinese(name: str) -> list[str]:
    text = THREE_MISTAKES
    return [
        f"{name}:{line_of(text, 'nmae =')}: posts[0].nmae: 未知的键；是不是 'name'？",
        f"{name}:{line_of(text, 'default_post =')}: repair.categories[0].default_post: "
        "未知的岗位 'repairman'；是不是 'repair'？",
        f"{name}:{line_of(text, 'reminder_time =')}: worklog.reminder_time: "
        "时间应写成 \"HH:MM\"（24 小时制），实际为 '25:00'",
    ]


def test_structural_reference_and_misspelt_key_errors_come_in_one_pass(tmp_path: Path) -> None:
    path = write(tmp_path, THREE_MISTAKES)
    assert check_profile(path, language="zh_CN") == three_errors_in_chinese("p.toml")
    assert check_profile(path) == [
        f"p.toml:{line_of(THREE_MISTAKES, 'nmae =')}: posts[0].nmae: "
        "unknown key; did you mean 'name'?",
        f"p.toml:{line_of(THREE_MISTAKES, 'default_post =')}: "
        "repair.categories[0].default_post: unknown post 'repairman'; did you mean 'repair'?",
        f"p.toml:{line_of(THREE_MISTAKES, 'reminder_time =')}: worklog.reminder_time: "
        "expected a time as \"HH:MM\" (24-hour), got '25:00'",
    ]


def test_profile_error_renders_in_either_language(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, THREE_MISTAKES))
    assert info.value.render("zh_CN") == three_errors_in_chinese("p.toml")
    assert info.value.render("en") == info.value.errors == str(info.value).splitlines()
    assert [problem.line for problem in info.value.problems] == [17, 24, 33]


def test_a_misspelt_optional_key_is_one_error(tmp_path: Path) -> None:
    # The default of the meant key (handles_repairs = false) must not give a second error.
    text = MINIMAL.replace("handles_repairs = true", "handles_repair = true")
    assert check_profile(write(tmp_path, text), language="zh_CN") == [
        f"p.toml:{line_of(text, 'handles_repair =')}: posts[0].handles_repair: "
        "未知的键；是不是 'handles_repairs'？"
    ]


def test_a_misspelt_table_is_one_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("[[posts]]", "[[post]]")
    assert check_profile(write(tmp_path, text)) == [
        f"p.toml:{line_of(text, '[[post]]')}: post: unknown key; did you mean 'posts'?"
    ]


def test_a_key_with_no_close_match_lists_the_allowed_ones(tmp_path: Path) -> None:
    text = MINIMAL.replace('kind = "实验楼"', 'kind = "实验楼"\ncolour = "red"')
    assert check_profile(write(tmp_path, text), language="zh_CN") == [
        f"p.toml:{line_of(text, 'colour')}: campuses[0].buildings[0].colour: "
        "未知的键（可用：key, name, aliases, kind, floors, rooms, equipment）"
    ]


def test_references_to_an_unreadable_key_are_not_a_second_error(tmp_path: Path) -> None:
    # "Repair" is not a valid key: the posts' keys are unknown, so "repair" is not reported.
    text = MINIMAL.replace('key = "repair"', 'key = "Repair"')
    errors = check_profile(write(tmp_path, text))
    assert len(errors) == 1
    assert errors[0].startswith(f"p.toml:{line_of(text, 'Repair')}: posts[0].key: invalid key")


def test_every_part_is_checked_beside_structural_errors(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[inspection.items]]\nkey = "taps"\nnumber = "one"\narea = "卫生间"\n'
        'text = "水龙头无滴漏"\ncategory = "othr"\n'
        '\n[[inspection.plans]]\nkey = "weekly"\nname = "每周小查"\n'
        'schedule = { day_of_week = "fri", hour = 15 }\nitems = ["taps", "nope"]\n'
        'places = ["lab", "gym"]\ninspector_posts = ["repair", "guard"]\n'
        "\n[calendar]\nweekend = ['sat', 'sunday']\nmakeup_workdays = [2026-01-05]\n"
    )
    assert check_profile(write(tmp_path, text), language="zh_CN") == [
        f"p.toml:{line_of(text, 'number =')}: inspection.items[0].number: 应为整数",
        f"p.toml:{line_of(text, 'category =')}: inspection.items[0].category: "
        "未知的报修类别 'othr'；是不是 'other'？",
        f"p.toml:{line_of(text, 'items =')}: inspection.plans[0].items[1]: "
        "未知的检查项 'nope'（已有：taps）",
        f"p.toml:{line_of(text, 'places =')}: inspection.plans[0].places[1]: "
        "未知的楼宇 'gym'（已有：lab）",
        f"p.toml:{line_of(text, 'inspector_posts =')}: inspection.plans[0].inspector_posts[1]: "
        "未知的岗位 'guard'（已有：repair）",
        # the weekend could not be read, so whether 2026-01-05 is a weekend day is not judged
        f"p.toml:{line_of(text, 'weekend =')}: calendar.weekend[1]: "
        "应为 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun' 之一",
    ]


def test_missing_sections_each_give_one_error(tmp_path: Path) -> None:
    assert check_profile(write(tmp_path, '[school]\nname = "x"\nshort_name = "x"\n'), "zh_CN") == [
        "p.toml:1: campuses: 缺少必填项",
        "p.toml:1: posts: 缺少必填项",
        "p.toml:1: repair: 缺少必填项",
    ]


def test_unreadable_file_and_syntax_error_in_chinese(tmp_path: Path) -> None:
    [error] = check_profile(tmp_path / "missing.toml", language="zh_CN")
    assert error.startswith("missing.toml: 无法读取配置文件：")
    text = MINIMAL.replace('short_name = "测试"', 'short_name = "测试')
    [error] = check_profile(write(tmp_path, text), language="zh_CN")
    assert error.startswith(f"p.toml:{line_of(text, 'short_name')}: TOML 语法错误：")


def test_operator_language(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("HOUQIN_LANGUAGE", raising=False)
    monkeypatch.setenv("LANGUAGE", "en")  # gettext's variable, not a setting
    assert operator_language() == "zh_CN"
    monkeypatch.setenv("HOUQIN_LANGUAGE", "en")
    assert operator_language() == "en"
    monkeypatch.setenv("HOUQIN_DATABASE_URL", "mysql://nope")  # another setting is bad
    assert operator_language() == "zh_CN"
    (tmp_path / ".env").write_text("HOUQIN_LANGUAGE=en\n", encoding="utf-8")
    monkeypatch.delenv("HOUQIN_LANGUAGE")
    monkeypatch.delenv("HOUQIN_DATABASE_URL")
    assert operator_language() == "en"


# --------------------------------------------------------------------------- the real command


def houqin(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(PREFIX) and k not in LEGACY_NAMES  # no settings but these
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,  # away from any .env of the checkout
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_command_reports_every_error_in_chinese_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, THREE_MISTAKES, name="my-school.toml")
    done = houqin("profile", "check", str(path), cwd=tmp_path, LANGUAGE="en_US:en")
    assert done.returncode == 2
    assert done.stderr.splitlines() == three_errors_in_chinese("my-school.toml")
    assert "Traceback" not in done.stderr


def test_command_speaks_english_when_the_settings_say_so(tmp_path: Path) -> None:
    path = write(tmp_path, THREE_MISTAKES, name="my-school.toml")
    done = houqin("profile", "check", str(path), cwd=tmp_path, HOUQIN_LANGUAGE="en")
    assert done.returncode == 2
    assert done.stderr.splitlines()[1] == (
        f"my-school.toml:{line_of(THREE_MISTAKES, 'default_post =')}: "
        "repair.categories[0].default_post: unknown post 'repairman'; did you mean 'repair'?"
    )
    assert len(done.stderr.splitlines()) == 3


def test_command_accepts_a_valid_profile(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    done = houqin("profile", "check", str(path), cwd=tmp_path)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, f"{path}: OK", "")
