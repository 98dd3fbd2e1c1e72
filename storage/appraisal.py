"""Monthly appraisal (月度考评): scoring rules, data gathering and frozen snapshots.

每月一考评，每季一汇总，年终总排位. Nothing here knows Telegram; time comes in as arguments.

Scoring of a month (pure, over plain data: :func:`score_month`)
----------------------------------------------------------------
Each component gives 0-100 points from the month's figures:

- ``worklog`` 工作日志: ``(on_time + late × late_log_factor) / expected_days × 100``
  (expected = the calendar's working days minus leave). Left out when no day was expected.
- ``tickets`` 工单质量: ``100 × (0.7 × finished_on_time / finished + 0.3 × (1 − rework_rate))``
  with ``rework_rate = min(1, rework / max(taken, finished))``. Left out when the person
  finished no repair job that month.
- ``satisfaction`` 服务满意度: the reporters' mean rating mapped linearly 1★→0, 5★→100
  (``(mean − 1) / 4 × 100``). Left out without any rating.
- ``inspection`` 检查: ``(on_time + 0.5 × late) / assigned × 100`` over the inspection rounds
  assigned. Left out when none was assigned.
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
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    AppraisalSnapshot,
    LeaderScore,
    Person,
    Role,
    SafetyIncident,
    ScoreAdjustment,
)
from storage.stats import InspectionStats, LogStats, Month, TicketStats

if TYPE_CHECKING:
    from school.profile import AppraisalSettings, SchoolProfile

COMPONENTS = ("worklog", "tickets", "satisfaction", "inspection", "leader")
TICKET_ON_TIME_SHARE = 0.7
TICKET_REWORK_SHARE = 0.3
INSPECTION_LATE_FACTOR = 0.5
MAX_ADJUSTMENT = 100.0
MAX_REASON = 500

# Why a component was left out (codes; handlers translate them).
NO_LOG_DAYS = "no_log_days"
NO_FINISHED_JOBS = "no_finished_jobs"
NO_RATINGS = "no_ratings"
NO_ROUNDS = "no_rounds"
NO_LEADER_SCORE = "no_leader_score"
ZERO_WEIGHT = "zero_weight"


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A month (2026-10), a quarter (2026-Q4) or a year (2026)."""

    year: int
    kind: str  # month | quarter | year
    number: int = 0  # month 1-12, quarter 1-4, 0 for a year

    @classmethod
    def parse(cls, text: str) -> Period:
        """'2026-10', '2026-Q4' (or 2026Q4, 2026-q4) or '2026'; ValueError otherwise."""
        raw = text.strip().upper()
        if match := re.fullmatch(r"(\d{4})-?Q([1-4])", raw):
            period = cls(int(match.group(1)), "quarter", int(match.group(2)))
        elif re.fullmatch(r"\d{4}", raw):
            period = cls(int(raw), "year")
        elif re.fullmatch(r"\d{4}-\d{1,2}", raw):
            month = Month.parse(raw)
            return cls.of_month(month)
        else:
            raise ValueError(f"not a period: {text!r} (use 2026-10, 2026-Q4 or 2026)")
        if not 2000 <= period.year <= 2100:
            raise ValueError(f"not a period: {text!r}")
        return period

    @classmethod
    def of_month(cls, month: Month) -> Period:
        """The period of one month."""
        return cls(month.year, "month", month.month)

    @property
    def months(self) -> list[Month]:
        """The months the period covers."""
        if self.kind == "month":
            return [Month(self.year, self.number)]
        if self.kind == "quarter":
            first = (self.number - 1) * 3 + 1
            return [Month(self.year, m) for m in range(first, first + 3)]
        return [Month(self.year, m) for m in range(1, 13)]

    @property
    def month(self) -> Month:
        """The month of a month period."""
        if self.kind != "month":
            raise ValueError(f"{self} is not a month")
        return Month(self.year, self.number)

    @property
    def last_day(self) -> date:
        return self.months[-1].last_day

    def previous(self) -> Period:
        """The period of the same kind before this one."""
        if self.kind == "month":
            return Period.of_month(self.month.previous())
        if self.kind == "quarter":
            if self.number == 1:
                return Period(self.year - 1, "quarter", 4)
            return Period(self.year, "quarter", self.number - 1)
        return Period(self.year - 1, "year")

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}"


def quarter_of(month: Month) -> Period:
    """The quarter a month is in."""
    return Period(month.year, "quarter", month.quarter)


# --- plain data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonInfo:
    """An appraised person as the scoring sees them."""

    id: int
    name: str
    post_key: str | None = None
    post_name: str = ""


@dataclass(frozen=True)
class Adjustment:
    """A signed bonus (+) or deduction (−) with its reason."""

    points: float
    reason: str


@dataclass(frozen=True)
class Incident:
    """A safety incident the person caused."""

    occurred_on: date
    reason: str


@dataclass(frozen=True)
class Component:
    """One component of a person's month: its score, the weight used, and its inputs."""

    key: str
    weight: float  # from the profile
    score: float | None  # 0-100 when it applies
    weight_used: float = 0.0  # rescaled so that the applicable weights sum to 100
    inputs: dict[str, float] = field(default_factory=dict)
    reason: str | None = None  # why it was left out

    @property
    def applies(self) -> bool:
        return self.reason is None and self.score is not None


@dataclass
class PersonResult:
    """A person's standing in a period (a month, or a quarter/year summary)."""

    person: PersonInfo
    total: float | None  # None: not appraised (no component applied)
    vetoed: bool = False
    satisfaction: float | None = None  # tie-break 1
    on_time_rate: float | None = None  # tie-break 2
    grade: str | None = None
    pay_coefficient: float | None = None
    rank: int | None = None
    star: bool = False
    capped: bool = False  # reached the top grade but the 优秀 cap was full
    # months only
    components: list[Component] = field(default_factory=list)
    base: float | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    log_ratio: float | None = None
    # summaries only: month (or quarter) → total
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return self.total is not None


@dataclass
class AppraisalResult:
    """A period's results: everybody ranked (appraised first, by rank)."""

    period: str
    kind: str
    people: list[PersonResult]
    excellent_limit: int = 0
    sources: list[str] = field(default_factory=list)  # summaries: the periods averaged

    @property
    def ranked(self) -> list[PersonResult]:
        """Appraised people in rank order."""
        return [p for p in self.people if p.scored]

    @property
    def stars(self) -> list[PersonResult]:
        return [p for p in self.people if p.star]

    def of(self, person_id: int) -> PersonResult | None:
        """The result of one person."""
        return next((p for p in self.people if p.person.id == person_id), None)


# --- components ------------------------------------------------------------------------------


def _clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def worklog_component(stats: LogStats | None, weight: float, late_factor: float) -> Component:
    """工作日志: logs on time and late (× late_log_factor) against the expected working days."""
    if stats is None or stats.expected_days <= 0:
        return Component("worklog", weight, None, reason=NO_LOG_DAYS)
    on_time = min(stats.on_time, stats.expected_days)
    late = min(stats.late, stats.expected_days - on_time)
    score = _clamp((on_time + late * late_factor) / stats.expected_days * 100)
    inputs: dict[str, float] = {
        "expected_days": stats.expected_days,
        "on_time": stats.on_time,
        "late": stats.late,
        "missing": stats.missing,
        "leave_days": stats.leave_days,
        "late_factor": late_factor,
    }
    return Component("worklog", weight, score, inputs=inputs)


def tickets_component(stats: TicketStats | None, weight: float) -> Component:
    """工单质量: 70% jobs finished within the limit, 30% jobs not sent back (返修)."""
    if stats is None or stats.finished <= 0:
        held: dict[str, float] = (
            {} if stats is None else {"taken": stats.taken, "rework": stats.rework}
        )
        return Component("tickets", weight, None, inputs=held, reason=NO_FINISHED_JOBS)
    on_time_share = min(stats.finished_on_time, stats.finished) / stats.finished
    rework_rate = min(1.0, stats.rework / max(stats.taken, stats.finished))
    score = _clamp(
        100 * (TICKET_ON_TIME_SHARE * on_time_share + TICKET_REWORK_SHARE * (1 - rework_rate))
    )
    inputs: dict[str, float] = {
        "finished": stats.finished,
        "finished_on_time": stats.finished_on_time,
        "accepted_on_time": stats.accepted_on_time,
        "taken": stats.taken,
        "rework": stats.rework,
    }
    return Component("tickets", weight, score, inputs=inputs)


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
    on_time = min(stats.on_time, stats.assigned)
    late = min(stats.late, stats.assigned - on_time)
    score = _clamp((on_time + INSPECTION_LATE_FACTOR * late) / stats.assigned * 100)
    inputs: dict[str, float] = {
        "assigned": stats.assigned,
        "on_time": stats.on_time,
        "late": stats.late,
        "missed": stats.missed,
    }
    return Component("inspection", weight, score, inputs=inputs)


def leader_component(score: float | None, weight: float) -> Component:
    """领导评价: the director's 0-100 score."""
    if score is None:
        return Component("leader", weight, None, reason=NO_LEADER_SCORE)
    return Component("leader", weight, _clamp(score), inputs={"score": score})


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
) -> PersonResult:
    """One person's month: components, weighted base, adjustments, total (ungraded)."""
    weights = settings.weights
    components = rescale(
        [
            worklog_component(log, weights.worklog, settings.late_log_factor),
            tickets_component(ticket, weights.tickets),
            satisfaction_component(ticket, weights.satisfaction),
            inspection_component(inspection, weights.inspection),
            leader_component(leader, weights.leader),
        ]
    )
    applicable = [c for c in components if c.applies]
    base: float | None = None
    total: float | None = None
    if applicable:
        base = sum(c.weight_used * (c.score or 0.0) for c in applicable) / 100
        total = round(_clamp(base + sum(a.points for a in adjustments)), 2)
    on_time_done = (log.on_time if log else 0) + (ticket.finished_on_time if ticket else 0)
    on_time_done += inspection.on_time if inspection else 0
    expected = (log.expected_days if log else 0) + (ticket.finished if ticket else 0)
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


# --- JSON for snapshots ----------------------------------------------------------------------


def result_to_data(result: AppraisalResult) -> dict[str, Any]:
    """A JSON-serializable form of a result (stored in AppraisalSnapshot.data)."""

    def person(p: PersonResult) -> dict[str, Any]:
        return {
            "person": {
                "id": p.person.id,
                "name": p.person.name,
                "post_key": p.person.post_key,
                "post_name": p.person.post_name,
            },
            "total": p.total,
            "vetoed": p.vetoed,
            "satisfaction": p.satisfaction,
            "on_time_rate": p.on_time_rate,
            "grade": p.grade,
            "pay_coefficient": p.pay_coefficient,
            "rank": p.rank,
            "star": p.star,
            "capped": p.capped,
            "components": [
                {
                    "key": c.key,
                    "weight": c.weight,
                    "score": c.score,
                    "weight_used": c.weight_used,
                    "inputs": c.inputs,
                    "reason": c.reason,
                }
                for c in p.components
            ],
            "base": p.base,
            "adjustments": [{"points": a.points, "reason": a.reason} for a in p.adjustments],
            "incidents": [
                {"occurred_on": i.occurred_on.isoformat(), "reason": i.reason} for i in p.incidents
            ],
            "log_ratio": p.log_ratio,
            "parts": p.parts,
        }

    return {
        "period": result.period,
        "kind": result.kind,
        "excellent_limit": result.excellent_limit,
        "sources": result.sources,
        "people": [person(p) for p in result.people],
    }


def result_from_data(data: dict[str, Any]) -> AppraisalResult:
    """The inverse of :func:`result_to_data`."""
    people = []
    for row in data.get("people", []):
        info = row["person"]
        people.append(
            PersonResult(
                person=PersonInfo(
                    id=int(info["id"]),
                    name=str(info["name"]),
                    post_key=info.get("post_key"),
                    post_name=str(info.get("post_name") or ""),
                ),
                total=row.get("total"),
                vetoed=bool(row.get("vetoed")),
                satisfaction=row.get("satisfaction"),
                on_time_rate=row.get("on_time_rate"),
                grade=row.get("grade"),
                pay_coefficient=row.get("pay_coefficient"),
                rank=row.get("rank"),
                star=bool(row.get("star")),
                capped=bool(row.get("capped")),
                components=[
                    Component(
                        key=c["key"],
                        weight=float(c["weight"]),
                        score=c.get("score"),
                        weight_used=float(c.get("weight_used") or 0.0),
                        inputs=dict(c.get("inputs") or {}),
                        reason=c.get("reason"),
                    )
                    for c in row.get("components", [])
                ],
                base=row.get("base"),
                adjustments=[
                    Adjustment(float(a["points"]), str(a["reason"]))
                    for a in row.get("adjustments", [])
                ],
                incidents=[
                    Incident(date.fromisoformat(i["occurred_on"]), str(i["reason"]))
                    for i in row.get("incidents", [])
                ],
                log_ratio=row.get("log_ratio"),
                parts={str(k): float(v) for k, v in (row.get("parts") or {}).items()},
            )
        )
    return AppraisalResult(
        period=str(data.get("period", "")),
        kind=str(data.get("kind", "month")),
        people=people,
        excellent_limit=int(data.get("excellent_limit", 0)),
        sources=list(data.get("sources", [])),
    )


# --- gathering from the database -------------------------------------------------------------


@dataclass
class MonthInputs:
    """Everything a month's scoring reads, keyed by person id."""

    month: Month
    people: list[PersonInfo]
    logs: dict[int, LogStats]
    tickets: dict[int, TicketStats]
    inspections: dict[int, InspectionStats]
    leader: dict[int, float]
    adjustments: dict[int, list[Adjustment]]
    incidents: dict[int, list[Incident]]

    def to_data(self) -> dict[str, Any]:
        """The inputs as JSON, frozen in the snapshot next to the results."""

        def stats(values: dict[int, Any]) -> dict[str, Any]:
            return {
                str(k): {f: getattr(v, f) for f in v.__dataclass_fields__}
                for k, v in values.items()
            }

        return {
            "month": str(self.month),
            "people": [p.__dict__ for p in self.people],
            "logs": stats(self.logs),
            "tickets": {
                k: {**v, "ratings": list(v["ratings"])} for k, v in stats(self.tickets).items()
            },
            "inspections": stats(self.inspections),
            "leader": {str(k): v for k, v in self.leader.items()},
            "adjustments": {
                str(k): [{"points": a.points, "reason": a.reason} for a in v]
                for k, v in self.adjustments.items()
            },
            "incidents": {
                str(k): [{"occurred_on": i.occurred_on.isoformat(), "reason": i.reason} for i in v]
                for k, v in self.incidents.items()
            },
        }


def month_bounds(month: Month, profile: SchoolProfile) -> tuple[datetime, datetime]:
    """[start, end) of a month in the school's time zone."""
    start = datetime.combine(month.first_day, time(0), tzinfo=profile.tz)
    end = datetime.combine(month.next().first_day, time(0), tzinfo=profile.tz)
    return start, end


def appraised_post(profile: SchoolProfile, post_key: str | None) -> str | None:
    """The post's name when the post takes part in the appraisal, else None."""
    if not post_key:
        return None
    try:
        post = profile.post(post_key)
    except KeyError:
        return None
    return post.name if post.appraised else None


async def appraised_people(session: AsyncSession, profile: SchoolProfile) -> list[PersonInfo]:
    """Active staff whose post is appraised, by name (one query)."""
    query = select(Person).where(Person.role == Role.STAFF, col(Person.active).is_(True))
    found = []
    for person in (await session.exec(query)).all():
        post_name = appraised_post(profile, person.post_key)
        if post_name is not None and person.id is not None:
            found.append(PersonInfo(person.id, person.name, person.post_key, post_name))
    return sorted(found, key=lambda p: (p.name, p.id))


async def gather_month(
    session: AsyncSession, month: Month, profile: SchoolProfile, *, today: date
) -> MonthInputs:
    """Read a month's inputs in a constant number of queries, whatever the number of people."""
    from storage import inspections, tickets, worklogs

    people = await appraised_people(session, profile)
    ids = [p.id for p in people]
    period = str(month)
    leader: dict[int, float] = {}
    adjustments: dict[int, list[Adjustment]] = defaultdict(list)
    incidents: dict[int, list[Incident]] = defaultdict(list)
    if ids:
        for score in (
            await session.exec(
                select(LeaderScore).where(
                    LeaderScore.period == period, col(LeaderScore.person_id).in_(ids)
                )
            )
        ).all():
            leader[score.person_id] = score.score
        for adjustment in (
            await session.exec(
                select(ScoreAdjustment)
                .where(ScoreAdjustment.period == period, col(ScoreAdjustment.person_id).in_(ids))
                .order_by(col(ScoreAdjustment.id))
            )
        ).all():
            adjustments[adjustment.person_id].append(
                Adjustment(adjustment.points, adjustment.reason)
            )
        for incident in (
            await session.exec(
                select(SafetyIncident)
                .where(
                    col(SafetyIncident.occurred_on) >= month.first_day,
                    col(SafetyIncident.occurred_on) <= month.last_day,
                    col(SafetyIncident.person_id).in_(ids),
                )
                .order_by(col(SafetyIncident.occurred_on), col(SafetyIncident.id))
            )
        ).all():
            incidents[incident.person_id].append(Incident(incident.occurred_on, incident.reason))
    wanted = set(ids)
    logs = await worklogs.month_stats(session, month, profile, today=today)
    ticket_stats = await tickets.month_stats(session, month, profile)
    rounds = await inspections.month_stats(session, month, profile)
    return MonthInputs(
        month=month,
        people=people,
        logs={k: v for k, v in logs.items() if k in wanted},
        tickets={k: v for k, v in ticket_stats.items() if k in wanted},
        inspections={k: v for k, v in rounds.items() if k in wanted},
        leader=leader,
        adjustments=dict(adjustments),
        incidents=dict(incidents),
    )


def score_inputs(inputs: MonthInputs, settings: AppraisalSettings) -> AppraisalResult:
    """Score gathered inputs."""
    return score_month(
        inputs.people,
        inputs.logs,
        inputs.tickets,
        inputs.inspections,
        inputs.leader,
        inputs.adjustments,
        inputs.incidents,
        settings,
        period=str(inputs.month),
    )


async def compute_month(
    session: AsyncSession, month: Month, profile: SchoolProfile, *, today: date
) -> tuple[MonthInputs, AppraisalResult]:
    """Gather and score a month (live, not stored)."""
    inputs = await gather_month(session, month, profile, today=today)
    return inputs, score_inputs(inputs, profile.appraisal)


# --- snapshots -------------------------------------------------------------------------------


class AlreadyPublished(Exception):
    """Someone else stored this version of the period first."""


async def latest_snapshot(session: AsyncSession, period: str) -> AppraisalSnapshot | None:
    """The newest version of a period's snapshot."""
    query = (
        select(AppraisalSnapshot)
        .where(AppraisalSnapshot.period == period)
        .order_by(col(AppraisalSnapshot.version).desc())
    )
    return (await session.exec(query)).first()


async def latest_snapshots(
    session: AsyncSession, periods: Sequence[str]
) -> dict[str, AppraisalSnapshot]:
    """The newest published snapshot of each period that has one (one query)."""
    if not periods:
        return {}
    query = (
        select(AppraisalSnapshot)
        .where(
            col(AppraisalSnapshot.period).in_(list(periods)),
            col(AppraisalSnapshot.published_at).is_not(None),
        )
        .order_by(col(AppraisalSnapshot.version))
    )
    found: dict[str, AppraisalSnapshot] = {}
    for snapshot in (await session.exec(query)).all():
        found[snapshot.period] = snapshot
    return found


async def store_snapshot(
    session: AsyncSession,
    *,
    period: Period,
    data: dict[str, Any],
    now: datetime,
    version: int,
) -> AppraisalSnapshot:
    """Store a period's snapshot as ``version`` (published now); AlreadyPublished if taken."""
    snapshot = AppraisalSnapshot(
        period=str(period),
        kind=period.kind,
        version=version,
        data=data,
        computed_at=now,
        published_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(snapshot)
    except IntegrityError as exc:
        raise AlreadyPublished(str(period)) from exc
    return snapshot


async def update_snapshot_data(
    session: AsyncSession, snapshot_id: int, changes: dict[str, Any]
) -> AppraisalSnapshot | None:
    """Merge ``changes`` into a snapshot's data (e.g. that its chart was posted)."""
    snapshot = await session.get(AppraisalSnapshot, snapshot_id)
    if snapshot is None:
        return None
    snapshot.data = {**snapshot.data, **changes}
    session.add(snapshot)
    return snapshot


async def published_parts(
    session: AsyncSession, months: Sequence[Month]
) -> dict[str, AppraisalResult]:
    """The latest published results of these months (those published), by month."""
    snapshots = await latest_snapshots(session, [str(m) for m in months])
    return {period: result_from_data(s.data["result"]) for period, s in snapshots.items()}


def summarize_months(
    period: Period, months: dict[str, AppraisalResult], settings: AppraisalSettings
) -> AppraisalResult:
    """A quarter (mean of months) or a year (mean of quarters, each a mean of months)."""
    if period.kind == "quarter":
        return summarize(str(period), "quarter", months, settings)
    quarters: dict[str, AppraisalResult] = {}
    for number in range(1, 5):
        quarter = Period(period.year, "quarter", number)
        inside = {str(m): months[str(m)] for m in quarter.months if str(m) in months}
        if inside:
            quarters[str(quarter)] = summarize(str(quarter), "quarter", inside, settings)
    return summarize(str(period), "year", quarters, settings)


async def compute_period(
    session: AsyncSession,
    period: Period,
    profile: SchoolProfile,
    *,
    today: date,
    live_month: Month | None = None,
    upto: Month | None = None,
) -> tuple[dict[str, Any], AppraisalResult]:
    """A period's (inputs, result), computed now.

    A month is gathered live. A quarter or a year averages the published months (up to
    ``upto``); ``live_month``, when given and unpublished, is computed live and included.
    """
    if period.kind == "month":
        inputs, result = await compute_month(session, period.month, profile, today=today)
        return inputs.to_data(), result
    months = [m for m in period.months if upto is None or m <= upto]
    parts = await published_parts(session, months)
    if live_month is not None and live_month in months and str(live_month) not in parts:
        _inputs, parts[str(live_month)] = await compute_month(
            session, live_month, profile, today=today
        )
    result = summarize_months(period, parts, profile.appraisal)
    return {"months": sorted(parts)}, result


def snapshot_result(snapshot: AppraisalSnapshot) -> AppraisalResult:
    """The result frozen in a snapshot."""
    return result_from_data(snapshot.data["result"])


# --- director's inputs -----------------------------------------------------------------------


async def set_leader_score(
    session: AsyncSession,
    *,
    person_id: int,
    period: Month,
    score: float,
    given_by_id: int | None,
    now: datetime,
) -> LeaderScore:
    """Give (or change) the director's score of a person for a month."""
    if not 0 <= score <= 100:
        raise ValueError("a leader score is 0-100")
    query = select(LeaderScore).where(
        LeaderScore.person_id == person_id, LeaderScore.period == str(period)
    )
    existing = (await session.exec(query)).first()
    if existing is None:
        created = LeaderScore(
            person_id=person_id,
            period=str(period),
            score=score,
            given_by_id=given_by_id,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(created)
            return created
        except IntegrityError:  # given at the same moment elsewhere: update that one
            existing = (await session.exec(query)).first()
            if existing is None:
                raise
    existing.score, existing.given_by_id, existing.updated_at = score, given_by_id, now
    session.add(existing)
    await session.flush()
    return existing


async def leader_scores(session: AsyncSession, period: Month) -> dict[int, float]:
    """The director's scores of a month, by person id."""
    rows = await session.exec(select(LeaderScore).where(LeaderScore.period == str(period)))
    return {row.person_id: row.score for row in rows.all()}


async def add_adjustment(
    session: AsyncSession,
    *,
    person_id: int,
    period: Month,
    points: float,
    reason: str,
    given_by_id: int | None,
    now: datetime,
) -> ScoreAdjustment:
    """Record a signed bonus or deduction with its reason."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    if len(reason) > MAX_REASON:
        raise ValueError("the reason is too long")
    if points == 0 or abs(points) > MAX_ADJUSTMENT or not math.isfinite(points):
        raise ValueError("points must be non-zero and at most 100")
    adjustment = ScoreAdjustment(
        person_id=person_id,
        period=str(period),
        points=points,
        reason=reason,
        given_by_id=given_by_id,
        created_at=now,
    )
    session.add(adjustment)
    await session.flush()
    return adjustment


async def record_incident(
    session: AsyncSession,
    *,
    person_id: int,
    occurred_on: date,
    reason: str,
    recorded_by_id: int | None,
    now: datetime,
) -> SafetyIncident:
    """Record a safety incident: the month it happened in becomes 不合格."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    if len(reason) > MAX_REASON:
        raise ValueError("the reason is too long")
    incident = SafetyIncident(
        person_id=person_id,
        occurred_on=occurred_on,
        reason=reason,
        recorded_by_id=recorded_by_id,
        created_at=now,
    )
    session.add(incident)
    await session.flush()
    return incident


async def find_appraised(
    session: AsyncSession, profile: SchoolProfile, name: str
) -> list[PersonInfo]:
    """Appraised staff matching a name: the exact match, else those whose name contains it."""
    wanted = name.strip()
    if not wanted:
        return []
    people = await appraised_people(session, profile)
    exact = [p for p in people if p.name == wanted]
    return exact or [p for p in people if wanted in p.name]


async def snapshot_count(session: AsyncSession, period: str) -> int:
    """How many versions of a period exist."""
    query = (
        select(func.count())
        .select_from(AppraisalSnapshot)
        .where(AppraisalSnapshot.period == period)
    )
    return int((await session.exec(query)).one())
