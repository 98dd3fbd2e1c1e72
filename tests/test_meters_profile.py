"""The meters in the profile: references checked with line numbers, reading days from the
calendar, and the anomaly rules applied to a meter of the 示范中学 (use while closed)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from school.profile import ProfileError, SchoolProfile, default_profile_path, load_profile
from storage.meter_rules import Alarm, Reading
from storage.meters import anomalies_of


def test_a_meter_of_an_unknown_building_or_post_is_pointed_at(tmp_path: Path) -> None:
    text = Path(default_profile_path()).read_text(encoding="utf-8")
    bad = text.replace('name = "水表2"', 'name = "水表2"\npost = "plumber"', 1).replace(
        'building = "dorm_boys"\npost = "electrician"\n\n[[energy.meters]]\nkey = "power_teaching"',
        'building = "dorm_boy"\n\n[[energy.meters]]\nkey = "power_teaching"',
        1,
    )
    path = tmp_path / "school.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ProfileError) as found:
        load_profile(path)
    message = str(found.value)
    assert "energy.meters[2].building" in message and "dorm_boys" in message
    assert "energy.meters[2].post" in message and "'plumber'" in message


def test_reading_days_follow_the_calendar(profile: SchoolProfile) -> None:
    energy, calendar = profile.energy, profile.calendar
    assert energy.is_reading_day(calendar, date(2026, 11, 27))  # a Friday
    assert not energy.is_reading_day(calendar, date(2026, 11, 26))
    assert energy.is_reading_day(calendar, date(2026, 11, 30))  # last working day of November
    assert not energy.is_reading_day(calendar, date(2026, 10, 2))  # Friday in 国庆节
    assert energy.is_reading_day(calendar, date(2026, 10, 30))  # a Friday and the month's end


def weekly(start: date, values: list[float]) -> list[Reading]:
    return [Reading(start + timedelta(days=7 * i), v) for i, v in enumerate(values)]


def test_use_while_the_building_is_closed_alerts(profile: SchoolProfile) -> None:
    meter = profile.energy.meter("water_teaching")  # 教学楼: closed in 寒暑假 (from 11 July)
    readings = weekly(date(2026, 6, 19), [0, 70, 140, 210, 215])
    assert anomalies_of(profile, meter, readings) == []  # 5 m³ in a closed week: a trickle
    (found,) = anomalies_of(profile, meter, [*readings, Reading(date(2026, 7, 24), 260)])
    assert found.kind == Alarm.CLOSED and found.interval.amount == 45
    gym = profile.energy.meter("water_main")  # the campus meter: never closed
    assert all(
        a.kind != Alarm.CLOSED
        for a in anomalies_of(profile, gym, [*readings, Reading(date(2026, 7, 24), 260)])
    )


def test_a_rise_on_the_week_before_alerts(profile: SchoolProfile) -> None:
    meter = profile.energy.meter("power_teaching")
    readings = weekly(date(2026, 11, 6), [0, 2100, 4200])
    assert anomalies_of(profile, meter, readings) == []
    (found,) = anomalies_of(profile, meter, [*readings, Reading(date(2026, 11, 27), 7000)])
    assert found.kind == Alarm.RISE and found.change == pytest.approx(2800 / 2100 - 1)
