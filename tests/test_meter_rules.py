"""The meter rules as pure functions: parsing a reading message, questioning a reading, use
per interval and per month, rises against the previous period and last year, use while closed."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from storage.meter_rules import (
    Interval,
    Reading,
    Verdict,
    check_reading,
    closed_use,
    compare,
    intervals,
    monthly_usage,
    parse_readings,
    rise,
    usual_rate,
)

NAMES = {"水表1": "w1", "电表1": "e1", "水表10": "w10", "总水表": "wm"}
START = date(2026, 9, 4)

steps = st.lists(
    st.tuples(st.integers(1, 40), st.floats(0, 5000, allow_nan=False)), min_size=1, max_size=30
)


def series(start_value: float, parts: list[tuple[int, float]]) -> list[Reading]:
    """Increasing readings: each part is (days later, use since the last one)."""
    day, value = START, start_value
    found = [Reading(day, value)]
    for gap, used in parts:
        day, value = day + timedelta(days=gap), value + used
        found.append(Reading(day, value))
    return found


# --- parsing ---


def test_one_message_holds_every_meter() -> None:
    parsed = parse_readings("水表1 1234.5 电表1：56789, 总水表=20,5", NAMES)
    assert parsed.values == {"w1": 1234.5, "e1": 56789.0, "wm": 20.5}
    assert parsed.unknown == []


def test_the_longest_name_wins_and_strays_are_reported() -> None:
    parsed = parse_readings("水表10 77 水表1 3 煤表 5", NAMES)
    assert parsed.values == {"w10": 77.0, "w1": 3.0}
    assert "煤表" in parsed.unknown and "5" in parsed.unknown


def test_a_lone_number_is_the_only_meter() -> None:
    assert parse_readings("  4321.0 ", {"燃气表": "gas"}).values == {"gas": 4321.0}
    assert parse_readings("4321", NAMES).unknown == ["4321"]  # which meter? not guessed


@given(st.dictionaries(st.sampled_from(list(NAMES)), st.decimals(0, 10**7, places=1)))
def test_what_is_written_is_read_back(values: dict[str, object]) -> None:
    text = " ".join(f"{name} {value}" for name, value in values.items())
    parsed = parse_readings(text, NAMES)
    assert parsed.unknown == []
    assert parsed.values == {NAMES[name]: float(str(value)) for name, value in values.items()}


# --- questioning a reading ---


@given(steps, st.floats(0.01, 10**6), st.integers(1, 30))
def test_a_reading_below_the_last_is_always_questioned(
    parts: list[tuple[int, float]], drop: float, later: int
) -> None:
    history = series(1000, parts)
    last = history[-1]
    day = last.day + timedelta(days=later)
    assert check_reading(last.value - drop, day, history, factor=5) == Verdict.LOWER


@given(steps, st.integers(1, 30), st.floats(0, 1))
def test_usual_use_is_never_questioned(
    parts: list[tuple[int, float]], later: int, share: float
) -> None:
    history = series(1000, parts)
    usual = usual_rate(history)
    assume(usual is not None)
    assert usual is not None
    last = history[-1]
    value = last.value + usual * later * share  # at most the usual use per day
    assert check_reading(value, last.day + timedelta(days=later), history, factor=5) == Verdict.OK


@given(steps, st.integers(1, 30), st.floats(5.01, 100))
def test_far_beyond_the_usual_is_questioned(
    parts: list[tuple[int, float]], later: int, times: float
) -> None:
    history = series(1000, parts)
    usual = usual_rate(history)
    assume(usual is not None and usual > 0.01)
    assert usual is not None
    last = history[-1]
    value = last.value + usual * later * times
    assert check_reading(value, last.day + timedelta(days=later), history, factor=5) == (
        Verdict.ABSURD
    )


def test_the_first_reading_is_taken_as_it_is() -> None:
    assert check_reading(99999, START, [], factor=5) == Verdict.OK


# --- use per interval and per month ---


@given(steps, st.floats(0, 10**6))
def test_intervals_add_up_to_first_and_last(parts: list[tuple[int, float]], start: float) -> None:
    readings = series(start, parts)
    total = sum(i.amount for i in intervals(readings))
    assert abs(total - (readings[-1].value - readings[0].value)) < 1e-6 * max(1, total)


@given(steps, st.floats(0, 10**6))
def test_months_add_up_to_the_use_between_first_and_last(
    parts: list[tuple[int, float]], start: float
) -> None:
    readings = series(start, parts)
    months = monthly_usage(readings)
    total = readings[-1].value - readings[0].value
    assert abs(sum(months.values()) - total) < 1e-6 * max(1, total)
    assert all(amount >= 0 for amount in months.values())


@given(steps)
def test_reading_order_does_not_matter(parts: list[tuple[int, float]]) -> None:
    readings = series(0, parts)
    assert monthly_usage(readings[::-1]) == monthly_usage(readings)


def test_a_month_is_compared_with_the_month_before_and_last_year() -> None:
    usage = {(2025, 11): 100.0, (2026, 10): 120.0, (2026, 11): 150.0}
    c = compare(usage, 2026, 11)
    assert c.amount == 150 and c.vs_previous == 0.25 and c.vs_last_year == 0.5
    january = compare({(2025, 12): 10.0, (2026, 1): 5.0}, 2026, 1)
    assert january.vs_previous == -0.5 and january.vs_last_year is None


# --- alerts ---


def iv(start: date, days: int, amount: float) -> Interval:
    return Interval(start, start + timedelta(days=days), amount)


@given(st.floats(0.1, 1000), st.floats(0, 5), st.floats(0.05, 2))
def test_a_rise_alerts_only_beyond_the_threshold(
    base: float, factor: float, threshold: float
) -> None:
    previous = iv(START, 7, base * 7)
    latest = iv(START + timedelta(days=7), 7, base * 7 * factor)
    found = rise(latest, [previous], threshold=threshold)
    change = factor - 1
    if change > threshold + 1e-9:
        assert found is not None and abs(found - change) < 1e-6
    elif change < threshold - 1e-9:
        assert found is None


@given(st.floats(0.1, 1000), st.floats(0.05, 2))
def test_a_higher_threshold_never_alerts_more(base: float, threshold: float) -> None:
    previous = iv(START, 7, 70)
    latest = iv(START + timedelta(days=7), 7, base)
    if rise(latest, [previous], threshold=threshold * 2) is not None:
        assert rise(latest, [previous], threshold=threshold) is not None


def test_the_same_period_last_year_counts_too() -> None:
    last_year = iv(date(2025, 11, 20), 7, 70)
    previous = iv(date(2026, 11, 13), 7, 140)  # no rise on the week before
    latest = iv(date(2026, 11, 20), 7, 140)
    assert rise(latest, [last_year, previous], threshold=0.3) == 1.0


@given(st.floats(0, 100), st.floats(0.01, 100), st.floats(0, 1))
def test_use_while_closed(amount: float, usual: float, tolerance: float) -> None:
    span = iv(date(2026, 7, 20), 7, amount)
    assert closed_use(span, usual, lambda d: True, tolerance=tolerance) == (
        span.rate > tolerance * usual
    )
    assert not closed_use(span, usual, lambda d: d.day != 22, tolerance=tolerance)
