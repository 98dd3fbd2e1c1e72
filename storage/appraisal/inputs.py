"""What a month's appraisal reads: the appraised people, the month's figures from logs,
tickets and inspections (in a constant number of queries), and the director's own inputs
(leader's scores, signed bonuses and deductions, safety incidents)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.appraisal.results import Adjustment, AppraisalResult, Incident, PersonInfo
from storage.appraisal.scoring import score_month
from storage.models import LeaderScore, Person, Role, SafetyIncident, ScoreAdjustment
from storage.plans import PlanStats
from storage.rows import add_if_new
from storage.stats import InspectionStats, LogStats, Month, TicketStats

if TYPE_CHECKING:
    from school.profile import AppraisalSettings, SchoolProfile

MAX_ADJUSTMENT = 100.0
MAX_REASON = 500


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
    plans: dict[int, PlanStats] = field(default_factory=dict)

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
            "plans": stats(self.plans),
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
    from storage import inspections, plans, tickets, worklogs

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
    ticket_stats = await _with_service_ratings(session, ticket_stats, month, profile)
    rounds = await inspections.month_stats(session, month, profile)
    follow_through = (
        await plans.month_stats(
            session, month.first_day, month.last_day, [(p.id, p.post_key) for p in people]
        )
        if profile.appraisal.weights.plan > 0
        else {}
    )
    return MonthInputs(
        month=month,
        people=people,
        logs={k: v for k, v in logs.items() if k in wanted},
        tickets={k: v for k, v in ticket_stats.items() if k in wanted},
        inspections={k: v for k, v in rounds.items() if k in wanted},
        leader=leader,
        adjustments=dict(adjustments),
        incidents=dict(incidents),
        plans=follow_through,
    )


async def _with_service_ratings(
    session: AsyncSession, stats: dict[int, TicketStats], month: Month, profile: SchoolProfile
) -> dict[int, TicketStats]:
    """The month's ratings of meeting and reception services join the ratings of the staff
    who did the work (服务满意度), each counting `bookings.rating_weight` times."""
    from storage import bookings

    weight = profile.bookings.rating_weight
    if weight <= 0:
        return stats
    start, end = month_bounds(month, profile)
    merged = dict(stats)
    for person_id, ratings in (await bookings.month_ratings(session, start, end)).items():
        mine = merged.get(person_id) or TicketStats(0, 0, 0, 0, 0)
        extra = tuple(rating for rating in ratings for _ in range(weight))
        merged[person_id] = replace(mine, ratings=(*mine.ratings, *extra))
    return merged


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
        plans=inputs.plans,
    )


async def compute_month(
    session: AsyncSession, month: Month, profile: SchoolProfile, *, today: date
) -> tuple[MonthInputs, AppraisalResult]:
    """Gather and score a month (live, not stored)."""
    inputs = await gather_month(session, month, profile, today=today)
    return inputs, score_inputs(inputs, profile.appraisal)


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
        if await add_if_new(session, created):
            return created
        # given at the same moment elsewhere: update that one
        existing = (await session.exec(query)).first()
        if existing is None:  # pragma: no cover - the constraint said it exists
            raise LookupError("the leader score the constraint refused for is gone")
    existing.score, existing.given_by_id, existing.updated_at = score, given_by_id, now
    session.add(existing)
    await session.flush()
    return existing


async def leader_scores(session: AsyncSession, period: Month) -> dict[int, float]:
    """The director's scores of a month, by person id."""
    rows = await session.exec(select(LeaderScore).where(LeaderScore.period == str(period)))
    return {row.person_id: row.score for row in rows.all()}


Reasoned = TypeVar("Reasoned", ScoreAdjustment, SafetyIncident)


async def _add_with_reason(session: AsyncSession, row: Reasoned) -> Reasoned:
    """Add a bonus, deduction or incident whose reason is given (stripped; ValueError when it
    is empty or too long)."""
    reason = row.reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    if len(reason) > MAX_REASON:
        raise ValueError("the reason is too long")
    row.reason = reason
    session.add(row)
    await session.flush()
    return row


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
    if points == 0 or abs(points) > MAX_ADJUSTMENT or not math.isfinite(points):
        raise ValueError("points must be non-zero and at most 100")
    return await _add_with_reason(
        session,
        ScoreAdjustment(
            person_id=person_id,
            period=str(period),
            points=points,
            reason=reason,
            given_by_id=given_by_id,
            created_at=now,
        ),
    )


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
    incident = SafetyIncident(
        person_id=person_id,
        occurred_on=occurred_on,
        reason=reason,
        recorded_by_id=recorded_by_id,
        created_at=now,
    )
    return await _add_with_reason(session, incident)


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
