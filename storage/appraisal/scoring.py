"""Monthly appraisal (月度考评): the scoring rules, pure functions over plain data.

每月一考评，每季一汇总，年终总排位. Nothing here knows Telegram; time comes in as arguments.

Scoring of a month (pure, over plain data: :func:`score_month`)
----------------------------------------------------------------
Each component gives 0-100 points from the month's figures:

- ``worklog`` 工作日志: ``(on_time + late × late_log_factor) / expected_days × 100``
  (expected = the calendar's working days minus leave). Left out when no day was expected.
- ``tickets`` 工单质量: ``max(0, 100 × (0.7 × jobs_on_time / jobs + 0.3 × (1 − rework / jobs)))``.
  A job is one job however often it was sent back and finished again (``jobs``: the distinct
  jobs the person finished that month); each 返修 is a defect that takes ``30 / jobs`` points
  off, the same for the first and every further one, down to 0. Left out when the person
  finished no repair job that month.
- ``satisfaction`` 服务满意度: the reporters' mean rating mapped linearly 1★→0, 5★→100
  (``(mean − 1) / 4 × 100``). Left out without any rating.
- ``inspection`` 检查: ``(on_time + 0.5 × late) / assigned × 100`` over the inspection rounds
  assigned; a round is done only for those who marked an item of it (``unmarked`` ones, walked
  by others, stay assigned with no credit). Left out when none was assigned.
- ``leader`` 领导评价: the director's 0-100 score (``/rate``). Left out when not given.

A component that does not apply (or whose weight is 0) is left out and the weights of the others
are scaled up to sum to 100: ``base = Σ weight_i × score_i / Σ weight_i``. Signed bonuses and
deductions (奖/扣) are then added: ``total = clamp(base + Σ points, 0, 100)``, rounded to 0.01.
Someone for whom no component applies is listed as not appraised that month.

Grades come from ``profile.appraisal.grades`` (highest first). At most
``excellent_places(cap, n)`` people get the top grade (优秀): ``cap × n`` rounded to the nearest
whole person, and at least one while the cap is above zero, so a small team can still have its
优秀 ("about 20%"); the others who reach it get the next grade. A safety incident
(``incident_veto``) makes the month the lowest grade (不合格, 一票否决) whatever the score,
and ranks the person after everybody without one.
Ranking: total, then satisfaction, then the on-time rate (logs, jobs and rounds done on time
over those expected); people equal on all three share a rank. 服务标兵: the first
``star.count`` in the ranking who reach ``star.min_score``, have no incident (if required) and
filed logs on at least ``star.min_log_ratio`` of the expected days; a full tie with the last
one named is named too.

Quarter = mean of its published months; year = mean of its quarters (each a mean of the
published months). Grades and ranks of summaries follow the same rules; an incident in any
month of the period carries the veto to the quarter and the year.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from storage.appraisal.results import (
    Adjustment,
    AppraisalResult,
    Component,
    Incident,
    PersonInfo,
    PersonResult,
)
from storage.plans import PlanStats
from storage.stats import InspectionStats, LogStats, TicketStats

if TYPE_CHECKING:
    from school.profile import AppraisalSettings

COMPONENTS = ("worklog", "tickets", "satisfaction", "inspection", "leader")
TICKET_ON_TIME_SHARE = 0.7
TICKET_REWORK_SHARE = 0.3
INSPECTION_LATE_FACTOR = 0.5
PLAN_LATE_FACTOR = 0.5

# Why a component was left out (codes; handlers translate them).
NO_LOG_DAYS = "no_log_days"
NO_FINISHED_JOBS = "no_finished_jobs"
NO_RATINGS = "no_ratings"
NO_ROUNDS = "no_rounds"
NO_LEADER_SCORE = "no_leader_score"
NO_PLAN_ITEMS = "no_plan_items"
ZERO_WEIGHT = "zero_weight"


# --- components ------------------------------------------------------------------------------


def _clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def _counts(stats: LogStats | TicketStats | InspectionStats | PlanStats) -> dict[str, float]:
    """The counts a component was scored from (the stats' whole numbers, in their order),
    kept as its inputs."""
    return {name: value for name, value in asdict(stats).items() if isinstance(value, int)}


def _timeliness(on_time: int, late: int, due: int, late_factor: float) -> float:
    """0-100: the share of `due` done on time, a late one counting `late_factor` (no more
    counted than were due)."""
    on_time = min(on_time, due)
    late = min(late, due - on_time)
    return _clamp((on_time + late * late_factor) / due * 100)


def worklog_component(stats: LogStats | None, weight: float, late_factor: float) -> Component:
    """工作日志: logs on time and late (× late_log_factor) against the expected working days."""
    if stats is None or stats.expected_days <= 0:
        return Component("worklog", weight, None, reason=NO_LOG_DAYS)
    score = _timeliness(stats.on_time, stats.late, stats.expected_days, late_factor)
    inputs = {**_counts(stats), "late_factor": late_factor}
    return Component("worklog", weight, score, inputs=inputs)


def tickets_component(stats: TicketStats | None, weight: float) -> Component:
    """工单质量: 70% jobs finished within the limit, 30% less for every 返修 per job."""
    if stats is None or stats.jobs <= 0:
        held: dict[str, float] = (
            {} if stats is None else {"taken": stats.taken, "rework": stats.rework}
        )
        return Component("tickets", weight, None, inputs=held, reason=NO_FINISHED_JOBS)
    on_time_share = min(stats.jobs_on_time, stats.jobs) / stats.jobs
    defects_per_job = stats.rework / stats.jobs
    score = _clamp(
        100 * (TICKET_ON_TIME_SHARE * on_time_share + TICKET_REWORK_SHARE * (1 - defects_per_job))
    )
    return Component("tickets", weight, score, inputs=_counts(stats))


def satisfaction_component(stats: TicketStats | None, weight: float) -> Component:
    """服务满意度: mean rating, 1★ → 0 and 5★ → 100."""
    ratings = [min(5, max(1, r)) for r in (stats.ratings if stats else ())]
    if not ratings:
        return Component("satisfaction", weight, None, reason=NO_RATINGS)
    mean = sum(ratings) / len(ratings)
    score = _clamp((mean - 1) / 4 * 100)
    inputs: dict[str, float] = {"ratings": len(ratings), "mean_rating": round(mean, 2)}
    return Component("satisfaction", weight, score, inputs=inputs)


def inspection_component(stats: InspectionStats | None, weight: float) -> Component:
    """检查: rounds done on time (late ones count half) over the rounds assigned."""
    if stats is None or stats.assigned <= 0:
        return Component("inspection", weight, None, reason=NO_ROUNDS)
    score = _timeliness(stats.on_time, stats.late, stats.assigned, INSPECTION_LATE_FACTOR)
    return Component("inspection", weight, score, inputs=_counts(stats))


def leader_component(score: float | None, weight: float) -> Component:
    """领导评价: the director's 0-100 score."""
    if score is None:
        return Component("leader", weight, None, reason=NO_LEADER_SCORE)
    return Component("leader", weight, _clamp(score), inputs={"score": score})


def plan_component(stats: PlanStats | None, weight: float) -> Component:
    """学期工作计划: items due this month done on time (late ones count half) over those due."""
    if stats is None or stats.due <= 0:
        return Component("plan", weight, None, reason=NO_PLAN_ITEMS)
    score = _timeliness(stats.on_time, stats.late, stats.due, PLAN_LATE_FACTOR)
    return Component("plan", weight, score, inputs=_counts(stats))


def rescale(components: Sequence[Component]) -> list[Component]:
    """Leave out zero-weight components and scale the applicable weights to sum to 100."""
    marked = [
        c
        if not c.applies or c.weight > 0
        else Component(c.key, c.weight, c.score, inputs=c.inputs, reason=ZERO_WEIGHT)
        for c in components
    ]
    total = sum(c.weight for c in marked if c.applies)
    return [
        Component(
            c.key,
            c.weight,
            c.score,
            weight_used=(c.weight / total * 100) if c.applies and total > 0 else 0.0,
            inputs=c.inputs,
            reason=c.reason,
        )
        for c in marked
    ]


def _ratio(done: float, expected: float) -> float | None:
    return done / expected if expected > 0 else None


def score_person(
    person: PersonInfo,
    *,
    log: LogStats | None,
    ticket: TicketStats | None,
    inspection: InspectionStats | None,
    leader: float | None,
    adjustments: Sequence[Adjustment],
    incidents: Sequence[Incident],
    settings: AppraisalSettings,
    plan: PlanStats | None = None,
) -> PersonResult:
    """One person's month: components, weighted base, adjustments, total (ungraded). The
    plan's follow-through is a component only when the school gives it a weight."""
    weights = settings.weights
    parts = [
        worklog_component(log, weights.worklog, settings.late_log_factor),
        tickets_component(ticket, weights.tickets),
        satisfaction_component(ticket, weights.satisfaction),
        inspection_component(inspection, weights.inspection),
        leader_component(leader, weights.leader),
    ]
    if weights.plan > 0:
        parts.append(plan_component(plan, weights.plan))
    components = rescale(parts)
    applicable = [c for c in components if c.applies]
    base: float | None = None
    total: float | None = None
    if applicable:
        base = sum(c.weight_used * (c.score or 0.0) for c in applicable) / 100
        total = round(_clamp(base + sum(a.points for a in adjustments)), 2)
    on_time_done = (log.on_time if log else 0) + (ticket.jobs_on_time if ticket else 0)
    on_time_done += inspection.on_time if inspection else 0
    expected = (log.expected_days if log else 0) + (ticket.jobs if ticket else 0)
    expected += inspection.assigned if inspection else 0
    satisfaction = next((c.score for c in components if c.key == "satisfaction"), None)
    return PersonResult(
        person=person,
        total=total,
        vetoed=bool(incidents) and settings.incident_veto,
        satisfaction=satisfaction,
        on_time_rate=_ratio(on_time_done, expected),
        components=components,
        base=None if base is None else round(base, 2),
        adjustments=list(adjustments),
        incidents=list(incidents),
        log_ratio=_ratio((log.on_time + log.late) if log else 0, log.expected_days if log else 0),
    )


# --- grading, ranking and the star -----------------------------------------------------------


def _sort_key(result: PersonResult) -> tuple[int, float, float, float]:
    return (
        1 if result.vetoed else 0,
        -(result.total or 0.0),
        -(result.satisfaction if result.satisfaction is not None else -1.0),
        -(result.on_time_rate if result.on_time_rate is not None else -1.0),
    )


def excellent_places(cap: float, appraised: int) -> int:
    """How many may get the top grade: cap × appraised, rounded half up, at least one if cap > 0."""
    if cap <= 0 or appraised <= 0:
        return 0
    return min(appraised, max(1, math.floor(cap * appraised + 0.5 + 1e-9)))


def grade_and_rank(
    results: list[PersonResult], settings: AppraisalSettings
) -> tuple[list[PersonResult], int]:
    """Sort, rank, grade (with the top-grade cap and the veto); returns (results, cap)."""
    scored = sorted((r for r in results if r.scored), key=lambda r: (_sort_key(r), r.person.name))
    unscored = sorted((r for r in results if not r.scored), key=lambda r: r.person.name)
    grades = settings.grades
    top, lowest = grades[0], settings.lowest_grade
    limit = excellent_places(settings.excellent_cap, len(scored))
    previous: tuple[int, float, float, float] | None = None
    for index, result in enumerate(scored, start=1):
        key = _sort_key(result)
        result.rank = index if key != previous else scored[index - 2].rank
        previous = key
    # The cap: the top grade goes to those ranked within the limit; a full tie that would
    # straddle the limit gets the next grade (nobody is preferred arbitrarily).
    for result in scored:
        assert result.total is not None
        grade = lowest if result.vetoed else settings.grade_for(result.total)
        if grade.name == top.name and len(grades) > 1:
            mine = _sort_key(result)
            tied_or_better = sum(1 for r in scored if not r.vetoed and _sort_key(r) <= mine)
            if tied_or_better > limit:
                grade = grades[1]
                result.capped = True
        result.grade, result.pay_coefficient = grade.name, grade.pay_coefficient
    for result in unscored:
        result.rank = result.grade = result.pay_coefficient = None
    return [*scored, *unscored], limit


def choose_stars(results: Sequence[PersonResult], settings: AppraisalSettings) -> None:
    """Mark the month's 服务标兵 among ranked results (see the module docstring)."""
    rule = settings.star
    for result in results:
        result.star = False
    if rule.count <= 0:
        return
    eligible = [
        r
        for r in results
        if r.scored
        and not r.vetoed
        and (r.total or 0.0) >= rule.min_score
        and not (rule.require_no_incident and r.incidents)
        and (r.log_ratio is None or r.log_ratio + 1e-9 >= rule.min_log_ratio)
    ]
    if not eligible:
        return
    chosen = eligible[: rule.count]
    last = _sort_key(chosen[-1])
    chosen += [r for r in eligible[rule.count :] if _sort_key(r) == last]
    for result in chosen:
        result.star = True


def score_month(
    people: Sequence[PersonInfo],
    logs: dict[int, LogStats],
    tickets: dict[int, TicketStats],
    inspections: dict[int, InspectionStats],
    leader: dict[int, float],
    adjustments: dict[int, list[Adjustment]],
    incidents: dict[int, list[Incident]],
    settings: AppraisalSettings,
    *,
    period: str = "",
    plans: dict[int, PlanStats] | None = None,
) -> AppraisalResult:
    """Score, rank and grade everybody for a month; name the 服务标兵."""
    results = [
        score_person(
            person,
            log=logs.get(person.id),
            ticket=tickets.get(person.id),
            inspection=inspections.get(person.id),
            leader=leader.get(person.id),
            adjustments=adjustments.get(person.id, []),
            incidents=incidents.get(person.id, []),
            settings=settings,
            plan=(plans or {}).get(person.id),
        )
        for person in people
    ]
    ranked, limit = grade_and_rank(results, settings)
    choose_stars(ranked, settings)
    return AppraisalResult(period=period, kind="month", people=ranked, excellent_limit=limit)


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def summarize(
    period: str,
    kind: str,
    parts: dict[str, AppraisalResult],
    settings: AppraisalSettings,
) -> AppraisalResult:
    """A quarter from its months, or a year from its quarters: per-person means, graded."""
    people: dict[int, PersonInfo] = {}
    rows: dict[int, list[PersonResult]] = defaultdict(list)
    labels: dict[int, dict[str, float]] = defaultdict(dict)
    for label in sorted(parts):
        for result in parts[label].people:
            if result.total is None:
                continue
            people[result.person.id] = result.person
            rows[result.person.id].append(result)
            labels[result.person.id][label] = result.total
    results = []
    for person_id, person in people.items():
        mine = rows[person_id]
        total = _mean(r.total for r in mine if r.total is not None)
        results.append(
            PersonResult(
                person=person,
                total=None if total is None else round(total, 2),
                vetoed=any(r.vetoed for r in mine),
                satisfaction=_mean(r.satisfaction for r in mine if r.satisfaction is not None),
                on_time_rate=_mean(r.on_time_rate for r in mine if r.on_time_rate is not None),
                incidents=[i for r in mine for i in r.incidents],
                parts=labels[person_id],
            )
        )
    ranked, limit = grade_and_rank(results, settings)
    return AppraisalResult(
        period=period, kind=kind, people=ranked, excellent_limit=limit, sources=sorted(parts)
    )
