"""Appraisal periods and results as plain data: a month (2026-10), a quarter (2026-Q4) or a
year; a person's result and a period's; and their JSON form, frozen in snapshots."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from storage.stats import Month

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
