"""Meter readings (节约) in the database: saving a round of readings, each meter's history,
the alerts told once, and the monthly 通报 claimed once. The rules themselves (what is
suspicious, use per period) are pure functions in storage.meter_rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import SchoolProfile
from school.profile_energy import Meter
from storage import meter_rules as rules
from storage.energy_models import EnergyAlert, EnergyReport, MeterReading
from storage.meter_rules import Alarm, Interval, Reading
from storage.rows import add_if_new, saved

CHART_PENDING, CHART_SENT, CHART_NONE = "pending", "sent", "none"


async def history(session: AsyncSession, meter_key: str) -> list[Reading]:
    """Every reading of a meter, oldest first."""
    rows = await session.exec(
        select(MeterReading)
        .where(MeterReading.meter_key == meter_key)
        .order_by(col(MeterReading.day))
    )
    return [Reading(r.day, r.value) for r in rows.all()]


async def histories(session: AsyncSession, keys: Sequence[str]) -> dict[str, list[Reading]]:
    """Every reading of these meters, oldest first, by meter."""
    found: dict[str, list[Reading]] = {key: [] for key in keys}
    rows = await session.exec(
        select(MeterReading)
        .where(col(MeterReading.meter_key).in_(list(keys)))
        .order_by(col(MeterReading.day))
    )
    for row in rows.all():
        found[row.meter_key].append(Reading(row.day, row.value))
    return found


async def readings_on(session: AsyncSession, keys: Sequence[str], day: date) -> dict[str, float]:
    """The values of these meters read on `day`."""
    rows = await session.exec(
        select(MeterReading).where(
            col(MeterReading.meter_key).in_(list(keys)), MeterReading.day == day
        )
    )
    return {r.meter_key: r.value for r in rows.all()}


@dataclass(frozen=True)
class Questioned:
    """A value that is not saved as it is: why, and the last reading it was checked against."""

    meter_key: str
    value: float
    verdict: rules.Verdict
    last: Reading | None


async def question(
    session: AsyncSession,
    profile: SchoolProfile,
    values: dict[str, float],
    day: date,
) -> list[Questioned]:
    """The values that look wrong next to each meter's history (see rules.check_reading)."""
    found = []
    known = await histories(session, list(values))
    for key, value in values.items():
        earlier = [r for r in known[key] if r.day < day]
        verdict = rules.check_reading(value, day, earlier, factor=profile.energy.absurd_factor)
        if verdict != rules.Verdict.OK:
            last = max(earlier, key=lambda r: r.day) if earlier else None
            found.append(Questioned(key, value, verdict, last))
    return found


async def save(
    session: AsyncSession,
    values: dict[str, float],
    *,
    day: date,
    person_id: int | None,
    photo: str | None,
    confirmed: dict[str, str],
    now: datetime,
) -> list[MeterReading]:
    """Store the day's readings (a meter read again the same day keeps the latest value)."""
    stored = []
    for key, value in values.items():
        existing = (
            await session.exec(
                select(MeterReading).where(MeterReading.meter_key == key, MeterReading.day == day)
            )
        ).first()
        row = existing or MeterReading(meter_key=key, day=day, value=value, read_at=now)
        row.value, row.read_at, row.person_id = value, now, person_id
        row.photo_file_id = photo or row.photo_file_id
        row.confirmed = confirmed.get(key)
        stored.append(await saved(session, row))
    return stored


@dataclass(frozen=True)
class Anomaly:
    """What the latest interval of a meter shows: a rise or use while closed."""

    meter: Meter
    kind: Alarm
    interval: Interval
    change: float | None


def anomalies_of(
    profile: SchoolProfile, meter: Meter, readings: Sequence[Reading]
) -> list[Anomaly]:
    """The anomalies of a meter's latest interval (pure: from its readings and the profile)."""
    spans = rules.intervals(readings)
    if not spans:
        return []
    latest, earlier = spans[-1], spans[:-1]
    found = []
    energy = profile.energy
    closed = energy.closed_rule(meter.building)
    usual = rules.usual_rate(readings[:-1]) if len(readings) > 2 else None
    if closed is not None and rules.closed_use(
        latest,
        usual,
        lambda day: closed.is_closed(profile.calendar, day),
        tolerance=energy.closed_tolerance,
    ):
        found.append(Anomaly(meter, Alarm.CLOSED, latest, None))
    else:
        change = rules.rise(latest, earlier, threshold=energy.rise_threshold)
        if change is not None:
            found.append(Anomaly(meter, Alarm.RISE, latest, change))
    return found


async def record_alert(
    session: AsyncSession, anomaly: Anomaly, *, now: datetime
) -> EnergyAlert | None:
    """Store the alert of an anomaly; None when it was stored (and told) before."""
    alert = EnergyAlert(
        meter_key=anomaly.meter.key,
        kind=anomaly.kind.value,
        period_start=anomaly.interval.start,
        period_end=anomaly.interval.end,
        amount=anomaly.interval.amount,
        change=anomaly.change,
        created_at=now,
    )
    if not await add_if_new(session, alert):
        return None
    await session.flush()
    return alert


async def get_alert(session: AsyncSession, alert_id: int) -> EnergyAlert | None:
    return await session.get(EnergyAlert, alert_id)


async def link_ticket(session: AsyncSession, alert_id: int, ticket_id: int) -> bool:
    """Give the alert its repair ticket once; False when it has one already."""
    result = await session.exec(
        update(EnergyAlert)
        .where(col(EnergyAlert.id) == alert_id, col(EnergyAlert.ticket_id).is_(None))
        .values(ticket_id=ticket_id)
    )
    return result.rowcount == 1


# --- the monthly 通报 ---


async def claim_report(session: AsyncSession, month: str, *, now: datetime) -> bool:
    """Claim a month's 通报; False when it was claimed (it goes out once across restarts)."""
    return await add_if_new(session, EnergyReport(month=month, created_at=now))


async def get_report(session: AsyncSession, month: str) -> EnergyReport | None:
    return (await session.exec(select(EnergyReport).where(EnergyReport.month == month))).first()


async def set_chart(session: AsyncSession, month: str, state: str) -> None:
    await session.exec(
        update(EnergyReport).where(col(EnergyReport.month) == month).values(chart=state)
    )


async def reports_with_chart_pending(session: AsyncSession) -> list[str]:
    rows = await session.exec(select(EnergyReport).where(EnergyReport.chart == CHART_PENDING))
    return [r.month for r in rows.all()]
