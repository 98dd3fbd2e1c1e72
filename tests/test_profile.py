"""Tests for the school profile (school/profile.py and school/profiles/default.toml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from school.profile import (
    Duration,
    LineLocator,
    ProfileError,
    SchoolProfile,
    check_profile,
    default_profile,
    default_profile_path,
    load_profile,
    parse_duration,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

MINIMAL = """\
[school]
name = "测试学校"
short_name = "测试"

[[campuses]]
key = "main"
name = "本部"

[[campuses.buildings]]
key = "lab"
name = "实验楼"
kind = "实验楼"
floors = ["1楼", "2楼"]

[[posts]]
key = "repair"
name = "维修工"
handles_repairs = true
inspects = true

[[repair.categories]]
key = "other"
name = "其他"
default_post = "repair"

[[repair.urgencies]]
key = "normal"
name = "一般"
accept_within = "24h"
finish_within = "3wd"
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


@pytest.fixture(scope="module")
def profile() -> SchoolProfile:
    return default_profile()


# --------------------------------------------------------------------------- default profile


def test_default_profile_loads_and_is_valid(profile: SchoolProfile) -> None:
    assert check_profile(default_profile_path()) == []
    assert profile.school.ticket_prefix == "BX"
    assert len(profile.repair.categories) == 12
    assert len(profile.inspection.items) == 17
    assert [i.number for i in profile.inspection.items] == list(range(1, 18))
    names = {p.name for p in profile.posts}
    for post in ("门卫", "水电工", "维修工", "保洁员", "宿管员", "食堂炊事员", "锅炉工", "医务室"):
        assert post in names
    assert profile.appraisal.weights.as_dict() == {
        "worklog": 20,
        "tickets": 30,
        "satisfaction": 20,
        "inspection": 10,
        "leader": 20,
    }
    assert [g.name for g in profile.appraisal.grades] == ["优秀", "合格", "基本合格", "不合格"]
    assert profile.problems() == []


def test_minimal_profile_uses_code_defaults(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, MINIMAL))
    assert p.repair.auto_accept_days == 7
    assert p.repair.nudge_interval == parse_duration("4h")
    assert p.worklog.reminder_time == dt.time(17, 0)
    assert p.appraisal.grade_for(95).name == "优秀"
    assert p.appraisal.grade_for(59.9).name == "不合格"
    assert p.calendar.weekend == ["sat", "sun"]
    assert p.default_urgency.key == "normal"
    assert p.default_category.key == "other"


def test_json_round_trip(profile: SchoolProfile) -> None:
    data = profile.model_dump(mode="json")
    assert data["repair"]["working_hours"] == {"start": "08:00", "end": "17:30"}
    assert data["inspection"]["plans"][0]["deadline"] == "18:00"
    assert data["repair"]["urgencies"][1]["finish_within"] == "3wd"
    assert SchoolProfile.model_validate(data) == profile


def test_models_are_frozen(profile: SchoolProfile) -> None:
    with pytest.raises(ValueError):
        profile.school.name = "别的学校"  # type: ignore[misc]


def test_direct_validation_runs_cross_checks(tmp_path: Path) -> None:
    import tomllib

    data = tomllib.loads(MINIMAL.replace('default_post = "repair"', 'default_post = "nobody"'))
    with pytest.raises(ValueError, match="unknown post 'nobody'"):
        SchoolProfile.model_validate(data)


# --------------------------------------------------------------------------- located errors


def test_typo_key_points_at_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("handles_repairs = true", "handles_repair = true")
    n = line_of(text, "handles_repair =")
    assert errors_of(tmp_path, text) == [
        f"p.toml:{n}: posts[0].handles_repair: unknown key; did you mean 'handles_repairs'?"
    ]


def test_wrong_type_points_at_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace('default_post = "repair"', 'default_post = "repair"\nkeywords = "水"')
    n = line_of(text, "keywords =")
    assert errors_of(tmp_path, text) == [
        f"p.toml:{n}: repair.categories[0].keywords: Input should be a valid list"
    ]


def test_missing_required_field_points_at_table_header(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[posts]]\nkey = "guard"\n'
    n = line_of(text, "[[posts]]", occurrence=2)
    assert errors_of(tmp_path, text) == [f"p.toml:{n}: posts[1].name: missing required key"]


def test_dangling_category_reference(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[inspection.items]]\nkey = "taps"\nnumber = 1\narea = "卫生间/供水"\n'
        'text = "水龙头无滴漏"\ncategory = "othr"\n'
    )
    n = line_of(text, 'category = "othr"')
    assert errors_of(tmp_path, text) == [
        f"p.toml:{n}: inspection.items[0].category: unknown repair category 'othr'; "
        "did you mean 'other'?"
    ]


def test_weights_not_summing_to_100(tmp_path: Path) -> None:
    text = MINIMAL + "\n[appraisal.weights]\nworklog = 20\ntickets = 30\nleader = 10\n"
    n = line_of(text, "[appraisal.weights]")
    assert errors_of(tmp_path, text) == [
        f"p.toml:{n}: appraisal.weights: weights must sum to 100, got 90"
    ]


def test_negative_weight(tmp_path: Path) -> None:
    text = MINIMAL + "\n[appraisal]\nweights = { worklog = -10, tickets = 60 }\n"
    n = line_of(text, "weights =")
    assert errors_of(tmp_path, text) == [
        f"p.toml:{n}: appraisal.weights.worklog: Input should be greater than or equal to 0"
    ]


def test_toml_syntax_error(tmp_path: Path) -> None:
    text = MINIMAL.replace('short_name = "测试"', 'short_name = "测试')
    n = line_of(text, "short_name =")
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert errors[0].startswith(f"p.toml:{n}: TOML syntax error: ")


def test_duplicate_toml_key_is_a_syntax_error(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "维修工"', 'name = "维修工"\nname = "水电工"')
    n = line_of(text, 'name = "水电工"')
    assert errors_of(tmp_path, text)[0].startswith(f"p.toml:{n}: TOML syntax error: ")


def test_error_in_default_profile_copy(tmp_path: Path) -> None:
    text = default_profile_path().read_text(encoding="utf-8")
    bad = text.replace('default_post = "electrician"', 'default_post = "electricain"', 1)
    n = line_of(bad, 'default_post = "electricain"')
    assert errors_of(tmp_path, bad) == [
        f"p.toml:{n}: repair.categories[0].default_post: unknown post 'electricain'; "
        "did you mean 'electrician'?"
    ]


def test_errors_in_subtables_and_arrays_of_inline_tables(tmp_path: Path) -> None:
    rooms = '\n[campuses.buildings.rooms]\n"1楼" = ["101"]\n"5楼" = ["501"]'
    text = MINIMAL.replace('floors = ["1楼", "2楼"]', 'floors = ["1楼", "2楼"]' + rooms)
    text += "\n[calendar]\nmakeup_workdays = [2026-01-04, 2026-01-05]\n"
    assert errors_of(tmp_path, text) == [
        f"p.toml:{line_of(text, '5楼')}: campuses[0].buildings[0].rooms.5楼: "
        "unknown floor '5楼' (known: 1楼, 2楼)",
        f"p.toml:{line_of(text, 'makeup_workdays')}: calendar.makeup_workdays[1]: "
        "2026-01-05 is a mon, not a weekend day",
    ]
    text = MINIMAL + (
        "\n[calendar]\nholidays = [\n"
        '  { name = "元旦", start = 2026-01-01, end = 2026-01-03 },\n'
        '  { name = "春节", start = 2026-02-23, end = 2026-02-15 },\n'
        '  { name = "清明", start = 2026-04-04, end = "2026-04-31" },\n'
        "]\n"
    )
    errors = errors_of(tmp_path, text)
    assert errors[0] == (
        f"p.toml:{line_of(text, '春节')}: calendar.holidays[1]: "
        "end 2026-02-15 is before start 2026-02-23"
    )
    assert errors[1].startswith(f"p.toml:{line_of(text, '清明')}: calendar.holidays[2].end: ")
    assert len(errors) == 2


def test_cross_checks_run_beside_structural_errors(tmp_path: Path) -> None:
    grades = (
        '\n[[appraisal.grades]]\nname = "好"\nmin_score = 60\npay_coefficient = 1\n'
        '\n[[appraisal.grades]]\nname = "差"\nmin_score = 70\npay_coefficient = 1\n'
    )
    n = line_of(MINIMAL + grades, "min_score = 70")
    cross = [
        f"p.toml:{n}: appraisal.grades[1].min_score: grades must be in descending min_score "
        "order: 70 is not below 60",
        f"p.toml:{n}: appraisal.grades[1].min_score: the last grade must start at 0",
    ]
    assert errors_of(tmp_path, MINIMAL + grades) == cross
    text = MINIMAL + grades + '\n[worklog]\nreminder_time = "25:00"\n'
    assert errors_of(tmp_path, text) == [
        *cross,
        f"p.toml:{line_of(text, 'reminder_time')}: worklog.reminder_time: "
        "expected a time as \"HH:MM\" (24-hour), got '25:00'",
    ]


def test_several_errors_sorted_by_line(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace('key = "repair"', 'key = "Repair"')
        + '\n[worklog]\nreminder_time = "25:00"\n'
        + '\n[[inspection.plans]]\nkey = "weekly"\nname = "每周小查"\n'
        + 'schedule = { day_of_week = "fri", hour = 25 }\ninspector_posts = ["repair"]\n'
    )
    errors = errors_of(tmp_path, text)
    lines = [int(e.split(":")[1]) for e in errors]
    assert lines == sorted(lines)
    joined = "\n".join(errors)
    key_line = line_of(text, 'key = "Repair"')
    assert f"p.toml:{key_line}: posts[0].key: invalid key 'Repair'" in joined
    assert (
        f"p.toml:{line_of(text, 'reminder_time')}: worklog.reminder_time: expected a time" in joined
    )
    assert f"p.toml:{line_of(text, 'schedule =')}: inspection.plans[0].schedule: invalid" in joined


def test_cross_check_errors(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[posts]]\nkey = "repair"\nname = "门卫"\n'
        '\n[[inspection.plans]]\nkey = "monthly"\nname = "每月联查"\n'
        'schedule = { day = "last fri", hour = 14 }\nitems = ["nope"]\nplaces = ["lab", "gym"]\n'
        'inspector_posts = ["repair", "guard"]\n'
    )
    text = text.replace('name = "门卫"', 'name = "门卫"\nhandles_repairs = true')
    errors = errors_of(tmp_path, text)
    dup_line = line_of(text, 'key = "repair"', 2)
    assert errors == [
        f"p.toml:{dup_line}: posts[1].key: duplicate post 'repair' (first at posts[0].key)",
        f"p.toml:{line_of(text, 'items = ')}: inspection.plans[0].items[0]: "
        "unknown checklist item 'nope' (known: )",
        f"p.toml:{line_of(text, 'places = ')}: inspection.plans[0].places[1]: "
        "unknown building 'gym' (known: lab)",
        f"p.toml:{line_of(text, 'inspector_posts')}: inspection.plans[0].inspector_posts[1]: "
        "unknown post 'guard' (known: repair)",
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    errors = check_profile(tmp_path / "missing.toml")
    assert len(errors) == 1
    assert errors[0].startswith("missing.toml: cannot read profile")


# --------------------------------------------------------------------------- line locator


def test_line_locator_tracks_tables_arrays_and_inline_values() -> None:
    text = """\
# comment [not.a.table]
top = "a # not a comment"
[a]
x = 1
b.c = 2          # dotted key
"quoted key" = 3

[[arr]]
name = "first"
[[arr.sub]]
v = 1
[[arr.sub]]
v = 2
[arr.sub.deep]
w = 3
[[arr]]
name = "second"
[[arr.sub]]
v = 3
list = [
  { k = 1 },
  { k = 2, m = { n = 3 } },
]
s = '''
multi [line]
'''
after = 1
"""
    loc = LineLocator(text)
    assert loc.line_of(("top",)) == 2
    assert loc.line_of(("a",)) == 3
    assert loc.line_of(("a", "x")) == 4
    assert loc.line_of(("a", "b", "c")) == 5
    assert loc.line_of(("a", "quoted key")) == 6
    assert loc.line_of(("arr", 0)) == 8
    assert loc.line_of(("arr", 0, "sub", 1, "v")) == 13
    assert loc.line_of(("arr", 0, "sub", 1, "deep", "w")) == 15
    assert loc.line_of(("arr", 1, "name")) == 17
    assert loc.line_of(("arr", 1, "sub", 0)) == 18
    assert loc.line_of(("arr", 1, "sub", 0, "list", 1)) == 22
    assert loc.line_of(("arr", 1, "sub", 0, "list", 1, "m", "n")) == 22
    assert loc.line_of(("arr", 1, "sub", 0, "after")) == 27
    assert loc.line_of(("arr", 1, "missing", "deeper")) == 16  # nearest parent
    assert loc.line_of(("nothing",)) == 1


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Duration(timedelta=dt.timedelta(minutes=30))),
        ("24h", Duration(timedelta=dt.timedelta(hours=24))),
        ("2d", Duration(timedelta=dt.timedelta(days=2))),
        ("1h30m", Duration(timedelta=dt.timedelta(minutes=90))),
        (" 4H ", Duration(timedelta=dt.timedelta(hours=4))),
        ("0m", Duration(timedelta=dt.timedelta(0))),
        ("3wd", Duration(working_days=3)),
    ],
)
def test_parse_duration(text: str, expected: Duration) -> None:
    d = parse_duration(text)
    assert d == expected
    assert d.is_working == (expected.working_days is not None)
    assert str(d) == text.strip()


@pytest.mark.parametrize("text", ["", "30", "m", "3 weeks", "1wd2h", "1h1h", "-3h", "3.5h", "3x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_urgency_limits(profile: SchoolProfile) -> None:
    urgent, normal, scheduled = profile.repair.urgencies
    assert urgent.accept_within == parse_duration("30m")
    assert normal.finish_within is not None and normal.finish_within.working_days == 3
    assert scheduled.by_appointment and not normal.by_appointment


# --------------------------------------------------------------------------- calendar


def test_calendar_rules(profile: SchoolProfile) -> None:
    cal = profile.calendar
    assert cal.is_working_day(dt.date(2026, 3, 4))  # Wednesday
    assert not cal.is_working_day(dt.date(2026, 3, 7))  # Saturday
    assert not cal.is_working_day(dt.date(2026, 10, 5))  # 国庆节 Monday
    assert cal.holiday(dt.date(2026, 10, 5)) is not None
    assert cal.is_working_day(dt.date(2026, 10, 10))  # 调休 Saturday
    assert cal.is_working_day(dt.date(2026, 1, 4))  # 调休 Sunday
    assert cal.is_vacation(dt.date(2026, 8, 1)) and not cal.is_vacation(dt.date(2026, 9, 1))
    assert cal.is_working_day(dt.date(2026, 8, 3))  # vacation Monday, staff work
    no_vacation_work = cal.model_copy(update={"work_in_vacations": False})
    assert not no_vacation_work.is_working_day(dt.date(2026, 8, 3))
    assert no_vacation_work.is_working_day(dt.date(2026, 9, 1))
    assert cal.is_exam_week(dt.date(2026, 7, 8))
    assert cal.working_days(dt.date(2026, 9, 28), dt.date(2026, 10, 11)) == [
        dt.date(2026, 9, 28),
        dt.date(2026, 9, 29),
        dt.date(2026, 9, 30),
        dt.date(2026, 10, 8),
        dt.date(2026, 10, 9),
        dt.date(2026, 10, 10),
    ]
    assert cal.working_days(dt.date(2026, 3, 5), dt.date(2026, 3, 4)) == []
    assert cal.next_working_day(dt.date(2026, 10, 1)) == dt.date(2026, 10, 8)
    assert cal.next_working_day(dt.date(2026, 3, 4), include=False) == dt.date(2026, 3, 5)


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=dt.date(2025, 12, 1), max_value=dt.date(2027, 12, 31)),
    length=st.integers(min_value=0, max_value=120),
)
def test_working_days_property(start: dt.date, length: int) -> None:
    cal = default_profile().calendar
    end = start + dt.timedelta(days=length)
    days = cal.working_days(start, end)
    assert len(days) <= length + 1
    assert days == sorted(set(days))
    assert all(start <= d <= end for d in days)
    assert not any(cal.is_holiday(d) for d in days)
    assert all(d in days for d in cal.makeup_workdays if start <= d <= end)
    assert all(d.weekday() < 5 or d in cal.makeup_workdays for d in days)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 11, 30)),
    n=st.integers(min_value=1, max_value=10),
)
def test_working_day_deadline_property(start: dt.datetime, n: int) -> None:
    p = default_profile()
    end = p.add_working_time(start, Duration(working_days=n))
    hours = p.repair.working_hours
    assert end > start
    assert p.calendar.is_working_day(end.date())
    assert hours.start < end.time() <= hours.end
    # exactly n working days of working time fit between start and end
    assert len(p.calendar.working_days(start.date(), end.date())) in range(n, n + 2)


# --------------------------------------------------------------------------- deadlines


def test_working_day_deadlines(profile: SchoolProfile) -> None:
    add = profile.add_working_time
    mon = dt.datetime(2026, 3, 2, 10, 0)  # Monday
    assert add(mon, "3wd") == dt.datetime(2026, 3, 5, 10, 0)
    assert add(dt.datetime(2026, 3, 6, 16, 0), "1wd") == dt.datetime(2026, 3, 9, 16, 0)
    assert add(dt.datetime(2026, 3, 7, 20, 0), "1wd") == dt.datetime(2026, 3, 9, 17, 30)
    assert add(dt.datetime(2026, 3, 2, 6, 0), "1wd") == dt.datetime(2026, 3, 2, 17, 30)
    assert add(mon, "0wd") == mon
    # across 国庆节, ending on the 调休 Saturday 2026-10-10
    assert add(dt.datetime(2026, 9, 30, 10, 0), "3wd") == dt.datetime(2026, 10, 10, 10, 0)
    # wall-clock limits ignore the calendar
    assert add(dt.datetime(2026, 9, 30, 10, 0), "24h") == dt.datetime(2026, 10, 1, 10, 0)


def test_aware_deadlines(profile: SchoolProfile) -> None:
    start = dt.datetime(2026, 3, 6, 8, 0, tzinfo=dt.UTC)  # Friday 16:00 in Shanghai
    end = profile.add_working_time(start, "1wd")
    assert end.utcoffset() == dt.timedelta(hours=8)
    assert end.replace(tzinfo=None) == dt.datetime(2026, 3, 9, 16, 0)
    assert profile.add_working_time(start, "30m") == start + dt.timedelta(minutes=30)
    accept, finish = profile.deadlines(start, "normal")
    assert accept == start + dt.timedelta(hours=24)
    assert finish is not None and finish.astimezone(SHANGHAI).day == 11
    assert profile.deadlines(start, "scheduled") == (None, None)


# --------------------------------------------------------------------------- inspections


def test_inspection_plans(profile: SchoolProfile) -> None:
    weekly = profile.inspection_plan("weekly")
    assert [i.number for i in profile.plan_items(weekly)] == list(range(1, 8))
    assert len(profile.plan_items("monthly")) == 17
    assert len(profile.plan_places("monthly")) == len(list(profile.buildings()))
    assert profile.inspection_plan("monthly").joint
    for item in profile.inspection.items:
        profile.category(item.category)  # every failure maps to a real category
    trigger = profile.plan_trigger("monthly")
    now = dt.datetime(2026, 4, 1, tzinfo=profile.tz)
    fire = trigger.get_next_fire_time(None, now)
    assert fire is not None and fire.date() == dt.date(2026, 4, 30)
    assert (fire.hour, fire.minute) == (14, 0)
    fire = profile.plan_trigger(weekly).get_next_fire_time(None, now)
    assert fire is not None and fire.date() == dt.date(2026, 4, 3)
    start = dt.datetime(2026, 4, 3, 15, 0)
    assert weekly.deadline_at(start) == dt.datetime(2026, 4, 3, 18, 0)


def test_schedule_rejects_numeric_weekdays(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[inspection.plans]]\nkey = "weekly"\nname = "每周小查"\n'
        'schedule = { day_of_week = "4", hour = 15 }\ninspector_people = ["王老师"]\n'
        'deadline = "3h"\n'
    )
    n = line_of(text, "schedule =")
    assert errors_of(tmp_path, text) == [
        f"p.toml:{n}: inspection.plans[0].schedule: day_of_week must use names (mon..sun), "
        "not numbers"
    ]
    ok = load_profile(write(tmp_path, text.replace('"4"', '"fri"')))
    plan = ok.inspection_plan("weekly")
    assert plan.deadline == parse_duration("3h")
    assert plan.deadline_at(dt.datetime(2026, 4, 3, 15, 0)) == dt.datetime(2026, 4, 3, 18, 0)
