"""Appraisal scoring: unit and property tests over plain data, and the gathering's query count."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from school.profile import AppraisalSettings, AppraisalWeights, StarRule
from storage import appraisal
from storage.appraisal import (
    Adjustment,
    Incident,
    Period,
    PersonInfo,
    grade_and_rank,
    rescale,
    result_from_data,
    result_to_data,
    score_month,
    score_person,
    summarize,
)
from storage.stats import InspectionStats, LogStats, TicketStats, job_counts

SETTINGS = AppraisalSettings()


def person(i: int, name: str | None = None) -> PersonInfo:
    return PersonInfo(i, name or f"员工{i}", "electrician", "水电工")


def result_of(
    *,
    log: LogStats | None = None,
    ticket: TicketStats | None = None,
    inspection: InspectionStats | None = None,
    leader: float | None = None,
    adjustments: list[Adjustment] | None = None,
    incidents: list[Incident] | None = None,
    settings_: AppraisalSettings = SETTINGS,
) -> appraisal.PersonResult:
    return score_person(
        person(1),
        log=log,
        ticket=ticket,
        inspection=inspection,
        leader=leader,
        adjustments=adjustments or [],
        incidents=incidents or [],
        settings=settings_,
    )


# --- examples --------------------------------------------------------------------------------


def test_every_component_from_its_figures() -> None:
    result = result_of(
        log=LogStats(expected_days=20, on_time=16, late=2, missing=2),
        ticket=TicketStats(
            jobs=10, jobs_on_time=8, accepted_on_time=9, taken=10, rework=1, ratings=(5, 4)
        ),
        inspection=InspectionStats(assigned=4, on_time=3, late=1, missed=0),
        leader=90,
    )
    scores = {c.key: c.score for c in result.components}
    assert scores["worklog"] == pytest.approx((16 + 2 * 0.5) / 20 * 100)  # 85
    assert scores["tickets"] == pytest.approx(100 * (0.7 * 0.8 + 0.3 * 0.9))  # 83
    assert scores["satisfaction"] == pytest.approx((4.5 - 1) / 4 * 100)  # 87.5
    assert scores["inspection"] == pytest.approx((3 + 0.5) / 4 * 100)  # 87.5
    assert scores["leader"] == 90
    expected = (85 * 20 + 83 * 30 + 87.5 * 20 + 87.5 * 10 + 90 * 20) / 100
    assert result.total == pytest.approx(round(expected, 2))
    assert all(c.weight_used == c.weight for c in result.components)


def test_a_job_is_one_job_and_every_rework_costs_the_same() -> None:
    def tickets(jobs: int, on_time: int, rework: int) -> float:
        score = appraisal.tickets_component(
            TicketStats(jobs, on_time, jobs, jobs, rework), 30
        ).score
        assert score is not None
        return score

    assert tickets(1, 1, 0) == 100
    assert tickets(1, 1, 1) == pytest.approx(70)  # sent back once (and finished again)
    assert tickets(1, 1, 2) == pytest.approx(40)  # the second 返修 costs as much as the first
    assert tickets(1, 1, 4) == 0  # never below 0
    assert tickets(2, 2, 1) == pytest.approx(85)  # two jobs, one of them sent back once
    # Each 返修 takes 30 ÷ jobs points off, whatever came before it.
    costs = [tickets(4, 3, r) - tickets(4, 3, r + 1) for r in range(3)]
    assert costs == pytest.approx([7.5, 7.5, 7.5])


def test_a_gate_guard_without_jobs_has_the_other_weights_scaled_up() -> None:
    result = result_of(log=LogStats(20, 20, 0, 0), leader=80)
    used = {c.key: c.weight_used for c in result.components}
    assert used == {
        "worklog": 50,
        "tickets": 0,
        "satisfaction": 0,
        "inspection": 0,
        "leader": 50,
    }
    reasons = {c.key: c.reason for c in result.components}
    assert reasons["tickets"] == appraisal.NO_FINISHED_JOBS
    assert reasons["satisfaction"] == appraisal.NO_RATINGS
    assert reasons["inspection"] == appraisal.NO_ROUNDS
    assert reasons["worklog"] is None and reasons["leader"] is None
    assert result.total == 90


def test_missing_leader_score_is_left_out_and_said_so() -> None:
    result = result_of(log=LogStats(10, 10, 0, 0))
    leader = next(c for c in result.components if c.key == "leader")
    assert leader.reason == appraisal.NO_LEADER_SCORE and leader.weight_used == 0
    assert result.total == 100


def test_adjustments_add_to_the_total_clamped() -> None:
    bonus = result_of(log=LogStats(10, 10, 0, 0), adjustments=[Adjustment(5, "抢修")])
    assert bonus.total == 100
    deduction = result_of(
        log=LogStats(10, 5, 0, 5), adjustments=[Adjustment(-3, "迟到"), Adjustment(2, "好人好事")]
    )
    assert deduction.total == 49
    floor = result_of(log=LogStats(10, 0, 0, 10), adjustments=[Adjustment(-10, "旷工")])
    assert floor.total == 0


def test_nobody_with_nothing_to_score_is_not_ranked() -> None:
    month = score_month(
        [person(1), person(2)], {1: LogStats(5, 5, 0, 0)}, {}, {}, {}, {}, {}, SETTINGS
    )
    assert [p.person.id for p in month.ranked] == [1]
    absent = month.of(2)
    assert absent is not None and absent.total is None and absent.grade is None


def test_a_safety_incident_vetoes_the_month_and_ranks_last() -> None:
    people = [person(1, "甲"), person(2, "乙")]
    logs = {1: LogStats(10, 10, 0, 0), 2: LogStats(10, 8, 0, 2)}
    incidents = {1: [Incident(date(2026, 10, 9), "配电房未上锁")]}
    month = score_month(people, logs, {}, {}, {}, {}, incidents, SETTINGS)
    first, second = month.ranked
    assert first.person.name == "乙" and first.rank == 1
    assert second.person.name == "甲" and second.vetoed and second.grade == "不合格"
    assert second.pay_coefficient == 0.5 and not second.star


def test_grades_follow_the_profile_and_the_cap() -> None:
    people = [person(i) for i in range(1, 11)]
    logs = {i: LogStats(10, 10, 0, 0) for i in range(1, 11)}
    leader = {i: 100.0 - i for i in range(1, 11)}  # everybody ≥ 90 before the cap
    month = score_month(people, logs, {}, {}, leader, {}, {}, SETTINGS)
    grades = [p.grade for p in month.ranked]
    assert grades.count("优秀") == 2  # 20% of 10
    assert grades[:2] == ["优秀", "优秀"]
    assert all(g == "合格" for g in grades[2:])
    assert [p.capped for p in month.ranked][2:] == [True] * 8


def test_ties_are_broken_by_satisfaction_then_on_time_rate() -> None:
    people = [person(1, "甲"), person(2, "乙"), person(3, "丙"), person(4, "丁")]
    logs = {
        1: LogStats(10, 9, 0, 1),
        2: LogStats(10, 10, 0, 0),
        3: LogStats(10, 9, 0, 1),
        4: LogStats(10, 9, 0, 1),
    }
    # Only the leader's score counts, so everybody totals 80.
    only_leader = AppraisalSettings(
        weights=AppraisalWeights(worklog=0, tickets=0, satisfaction=0, inspection=0, leader=100)
    )
    tickets = {
        1: TicketStats(0, 0, 0, 0, 0, ratings=(5,)),
        2: TicketStats(0, 0, 0, 0, 0, ratings=(4,)),
        3: TicketStats(0, 0, 0, 0, 0, ratings=(4,)),
        4: TicketStats(0, 0, 0, 0, 0, ratings=(4,)),
    }
    leader = {1: 80.0, 2: 80.0, 3: 80.0, 4: 80.0}
    month = score_month(people, logs, tickets, {}, leader, {}, {}, only_leader)
    assert {p.total for p in month.ranked} == {80}
    assert [p.person.name for p in month.ranked][:2] == ["甲", "乙"]
    assert [p.rank for p in month.ranked] == [1, 2, 3, 3]


def test_service_star_needs_enough_logs_and_no_incident() -> None:
    people = [person(1, "甲"), person(2, "乙"), person(3, "丙")]
    logs = {1: LogStats(10, 8, 0, 2), 2: LogStats(10, 10, 0, 0), 3: LogStats(10, 10, 0, 0)}
    leader = {1: 100.0, 2: 95.0, 3: 100.0}
    incidents = {3: [Incident(date(2026, 10, 3), "燃气未关")]}
    rules = AppraisalSettings(star=StarRule(count=1, min_score=80, min_log_ratio=0.9))
    month = score_month(people, logs, {}, {}, leader, {}, incidents, rules)
    assert [p.person.name for p in month.stars] == ["乙"]


def test_quarter_is_the_mean_of_months_and_year_of_quarters() -> None:
    def month(period: str, totals: dict[int, float]) -> appraisal.AppraisalResult:
        people = [person(i) for i in totals]
        logs = {i: LogStats(100, int(t), 0, 100 - int(t)) for i, t in totals.items()}
        return score_month(people, logs, {}, {}, {}, {}, {}, SETTINGS, period=period)

    q4 = summarize(
        "2026-Q4",
        "quarter",
        {"2026-10": month("2026-10", {1: 90, 2: 70}), "2026-11": month("2026-11", {1: 80})},
        SETTINGS,
    )
    one, two = q4.of(1), q4.of(2)
    assert one is not None and one.total == 85 and one.parts == {"2026-10": 90, "2026-11": 80}
    assert two is not None and two.total == 70
    year = appraisal.summarize_months(
        Period.parse("2026"),
        {
            "2026-01": month("2026-01", {1: 60}),
            "2026-02": month("2026-02", {1: 80}),
            "2026-10": month("2026-10", {1: 100}),
        },
        SETTINGS,
    )
    mine = year.of(1)
    assert mine is not None and mine.total == 85  # mean of Q1 (70) and Q4 (100)
    assert mine.parts == {"2026-Q1": 70, "2026-Q4": 100}


def test_snapshot_data_round_trips() -> None:
    month = score_month(
        [person(1), person(2)],
        {1: LogStats(10, 9, 1, 0), 2: LogStats(10, 10, 0, 0)},
        {1: TicketStats(3, 2, 3, 3, 1, ratings=(5, 3))},
        {2: InspectionStats(2, 2, 0, 0)},
        {1: 88.0},
        {1: [Adjustment(2, "抢修")]},
        {2: [Incident(date(2026, 10, 2), "未关燃气")]},
        SETTINGS,
        period="2026-10",
    )
    assert result_from_data(result_to_data(month)) == month


def test_periods() -> None:
    assert str(Period.parse("2026-10")) == "2026-10"
    assert str(Period.parse("2026-q4")) == "2026-Q4"
    assert str(Period.parse("2026")) == "2026"
    assert Period.parse("2026-Q1").previous() == Period.parse("2025-Q4")
    assert [str(m) for m in Period.parse("2026-Q2").months] == ["2026-04", "2026-05", "2026-06"]
    for bad in ("2026-13", "26-10", "2026-Q5", "soon"):
        with pytest.raises(ValueError):
            Period.parse(bad)


# --- properties ------------------------------------------------------------------------------

log_stats = st.builds(
    lambda expected, on_time, late: LogStats(
        expected, min(on_time, expected), min(late, expected - min(on_time, expected)), 0
    ),
    st.integers(1, 23),
    st.integers(0, 23),
    st.integers(0, 23),
)
ticket_stats = st.builds(
    lambda finished, on_time, taken, rework, ratings: TicketStats(
        finished, min(on_time, finished), finished, max(taken, finished), rework, tuple(ratings)
    ),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
    st.lists(st.integers(1, 5), max_size=8),
)
inspection_stats = st.builds(
    lambda assigned, on_time, late: InspectionStats(
        assigned, min(on_time, assigned), min(late, assigned - min(on_time, assigned)), 0
    ),
    st.integers(0, 8),
    st.integers(0, 8),
    st.integers(0, 8),
)
weights = (
    st.lists(st.integers(0, 100), min_size=5, max_size=5)
    .filter(lambda w: sum(w) > 0)
    .map(lambda w: [x * 100 / sum(w) for x in w])
    .map(lambda w: [*w[:4], 100 - sum(w[:4])])
    .filter(lambda w: w[4] >= 0)
    .map(
        lambda w: AppraisalWeights(
            worklog=w[0], tickets=w[1], satisfaction=w[2], inspection=w[3], leader=w[4]
        )
    )
)
leader_scores = st.none() | st.floats(0, 100)


@settings(max_examples=200, deadline=None)
@given(
    log=st.none() | log_stats,
    ticket=st.none() | ticket_stats,
    inspection=st.none() | inspection_stats,
    leader=leader_scores,
    weights_=weights,
)
def test_weights_used_always_sum_to_100(
    log: LogStats | None,
    ticket: TicketStats | None,
    inspection: InspectionStats | None,
    leader: float | None,
    weights_: AppraisalWeights,
) -> None:
    result = result_of(
        log=log,
        ticket=ticket,
        inspection=inspection,
        leader=leader,
        settings_=AppraisalSettings(weights=weights_),
    )
    used = [c.weight_used for c in result.components if c.applies]
    if used:
        assert sum(used) == pytest.approx(100)
        assert result.total is not None and 0 <= result.total <= 100
    else:
        assert result.total is None
    for component in result.components:
        if not component.applies:
            assert component.weight_used == 0 and component.reason is not None


@settings(max_examples=200, deadline=None)
@given(
    log=log_stats,
    ticket=st.none() | ticket_stats,
    inspection=st.none() | inspection_stats,
    leader=leader_scores,
    weights_=weights,
    late_factor=st.floats(0, 1),
    data=st.data(),
)
def test_more_on_time_logs_never_lower_the_score(
    log: LogStats,
    ticket: TicketStats | None,
    inspection: InspectionStats | None,
    leader: float | None,
    weights_: AppraisalWeights,
    late_factor: float,
    data: st.DataObject,
) -> None:
    rules = AppraisalSettings(weights=weights_, late_log_factor=late_factor)
    room = log.expected_days - log.on_time - log.late
    extra = data.draw(st.integers(0, room))
    from_late = data.draw(st.integers(0, log.late))  # a late log filed on time instead
    better = LogStats(
        log.expected_days, log.on_time + extra + from_late, log.late - from_late, log.missing
    )
    before = result_of(
        log=log, ticket=ticket, inspection=inspection, leader=leader, settings_=rules
    )
    after = result_of(
        log=better, ticket=ticket, inspection=inspection, leader=leader, settings_=rules
    )
    assert (before.total is None) == (after.total is None)  # the same components apply
    if before.total is not None and after.total is not None:
        assert after.total >= before.total


@settings(max_examples=200, deadline=None)
@given(
    log=st.none() | log_stats,
    ticket=ticket_stats.filter(lambda t: bool(t.ratings)),
    leader=leader_scores,
    weights_=weights,
    data=st.data(),
)
def test_better_ratings_never_lower_the_score(
    log: LogStats | None,
    ticket: TicketStats,
    leader: float | None,
    weights_: AppraisalWeights,
    data: st.DataObject,
) -> None:
    rules = AppraisalSettings(weights=weights_)
    ratings = list(ticket.ratings)
    index = data.draw(st.integers(0, len(ratings) - 1))
    ratings[index] = data.draw(st.integers(ratings[index], 5))
    better = TicketStats(
        ticket.jobs,
        ticket.jobs_on_time,
        ticket.accepted_on_time,
        ticket.taken,
        ticket.rework,
        tuple(ratings),
    )
    before = result_of(log=log, ticket=ticket, leader=leader, settings_=rules)
    after = result_of(log=log, ticket=better, leader=leader, settings_=rules)
    assert (before.total is None) == (after.total is None)  # the same components apply
    if before.total is not None and after.total is not None:
        assert after.total >= before.total


@settings(max_examples=200, deadline=None)
@given(
    log=st.none() | log_stats,
    ticket=ticket_stats.filter(lambda t: t.jobs > 0),
    leader=leader_scores,
    weights_=weights,
    more=st.integers(1, 20),
)
def test_more_rework_never_raises_the_score(
    log: LogStats | None,
    ticket: TicketStats,
    leader: float | None,
    weights_: AppraisalWeights,
    more: int,
) -> None:
    rules = AppraisalSettings(weights=weights_)
    worse = replace(ticket, rework=ticket.rework + more)
    before = result_of(log=log, ticket=ticket, leader=leader, settings_=rules)
    after = result_of(log=log, ticket=worse, leader=leader, settings_=rules)
    assert (before.total is None) == (after.total is None)  # the same components apply
    if before.total is not None and after.total is not None:
        assert after.total <= before.total
    quality = [next(c.score for c in r.components if c.key == "tickets") for r in (before, after)]
    assert quality[1] is not None and quality[0] is not None and quality[1] <= quality[0]


@settings(max_examples=200, deadline=None)
@given(
    log=st.none() | log_stats,
    ticket=st.none() | ticket_stats,
    leader=leader_scores,
    weights_=weights,
    reworks=st.integers(1, 5),
    late_again=st.booleans(),
)
def test_a_reworked_job_never_scores_more_than_the_same_job_done_right_first_time(
    log: LogStats | None,
    ticket: TicketStats | None,
    leader: float | None,
    weights_: AppraisalWeights,
    reworks: int,
    late_again: bool,
) -> None:
    """Add one on-time job to a month: done right first time, or sent back `reworks` times and
    finished again each time (still one job; finished late in the end, or on time)."""
    rules = AppraisalSettings(weights=weights_)
    base = ticket or TicketStats(0, 0, 0, 0, 0)
    right = replace(base, jobs=base.jobs + 1, jobs_on_time=base.jobs_on_time + 1)
    reworked = replace(
        right,
        jobs_on_time=right.jobs_on_time - int(late_again),
        rework=right.rework + reworks,
    )
    first_time = result_of(log=log, ticket=right, leader=leader, settings_=rules)
    sent_back = result_of(log=log, ticket=reworked, leader=leader, settings_=rules)
    assert (first_time.total is None) == (sent_back.total is None)
    if first_time.total is not None and sent_back.total is not None:
        assert sent_back.total <= first_time.total


@settings(max_examples=200, deadline=None)
@given(
    jobs=st.lists(st.tuples(st.integers(1, 4), st.booleans()), min_size=1, max_size=12),
    leader=leader_scores,
    weights_=weights,
)
def test_a_job_sent_back_and_finished_again_stays_one_job(
    jobs: list[tuple[int, bool]], leader: float | None, weights_: AppraisalWeights
) -> None:
    """A month of 维修完成: job i finished `times` times (sent back `times - 1` times), the
    last one on time or not. Counted as it happened, against the same jobs done right first
    time (finished once, on time, never sent back)."""
    start = datetime(2026, 10, 5, 9, tzinfo=UTC)
    completions = []
    for ticket_id, (times, on_time) in enumerate(jobs):
        finish_by = start + timedelta(days=ticket_id, hours=times)
        for n in range(1, times + 1):
            late = n == times and not on_time
            completions.append(
                (ticket_id, finish_by + timedelta(hours=1 if late else -n), finish_by)
            )
    counted, counted_on_time = job_counts(completions)
    assert counted == len(jobs)  # a job is one job
    assert counted_on_time == sum(1 for _times, on_time in jobs if on_time)
    rework = sum(times - 1 for times, _on_time in jobs)
    rules = AppraisalSettings(weights=weights_)
    as_done = result_of(
        ticket=TicketStats(counted, counted_on_time, counted, counted, rework),
        leader=leader,
        settings_=rules,
    )
    right = result_of(
        ticket=TicketStats(len(jobs), len(jobs), len(jobs), len(jobs), 0),
        leader=leader,
        settings_=rules,
    )
    if as_done.total is not None and right.total is not None:
        assert as_done.total <= right.total


@settings(max_examples=150, deadline=None)
@given(
    totals=st.lists(st.floats(0, 100), min_size=1, max_size=40),
    ties=st.booleans(),
    cap=st.floats(0, 1),
)
def test_the_top_grade_cap_holds(totals: list[float], ties: bool, cap: float) -> None:
    if ties:
        totals = [round(t / 10) * 10 for t in totals]  # many equal scores
    rules = AppraisalSettings(excellent_cap=cap)
    people = [
        appraisal.PersonResult(person=person(i), total=round(t, 2)) for i, t in enumerate(totals)
    ]
    ranked, limit = grade_and_rank(people, rules)
    top = [p for p in ranked if p.grade == rules.grades[0].name]
    allowed = 0 if cap <= 0 else max(1, math.floor(cap * len(totals) + 0.5 + 1e-9))
    assert len(top) <= allowed and limit == min(allowed, len(totals))
    assert len(top) <= cap * len(totals) + 0.5 + 1e-9 or len(top) <= 1  # "about" the cap
    # Nobody below the top grade's score gets it, and the ranking is by score.
    assert all((p.total or 0) >= rules.grades[0].min_score for p in top)
    scores = [p.total or 0.0 for p in ranked]
    assert scores == sorted(scores, reverse=True)


@settings(max_examples=150, deadline=None)
@given(
    logs=st.lists(log_stats, min_size=1, max_size=10),
    leader=st.lists(st.floats(0, 100), min_size=10, max_size=10),
    vetoed=st.sets(st.integers(0, 9)),
    bonus=st.floats(0, 100),
)
def test_a_veto_forces_the_lowest_grade(
    logs: list[LogStats], leader: list[float], vetoed: set[int], bonus: float
) -> None:
    people = [person(i) for i in range(len(logs))]
    month = score_month(
        people,
        dict(enumerate(logs)),
        {},
        {},
        dict(enumerate(leader)),
        {i: [Adjustment(max(bonus, 0.5), "奖励")] for i in range(len(logs))},
        {i: [Incident(date(2026, 10, 1), "事故")] for i in vetoed if i < len(logs)},
        SETTINGS,
    )
    for result in month.ranked:
        if result.person.id in vetoed:
            assert result.grade == "不合格" and result.vetoed and not result.star
    # Everybody vetoed ranks after everybody who is not.
    flags = [r.vetoed for r in month.ranked]
    assert flags == sorted(flags)


def test_rescale_leaves_out_zero_weights() -> None:
    components = rescale(
        [
            appraisal.Component("worklog", 0, 50),
            appraisal.Component("leader", 20, 80),
        ]
    )
    assert components[0].reason == appraisal.ZERO_WEIGHT and components[1].weight_used == 100
