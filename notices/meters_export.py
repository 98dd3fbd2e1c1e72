"""The energy ledger (能耗台账) as Excel, in the shape the annual statistics of GB/T 29117
(节约型学校评价导则) ask for: use by building and month per kind (water m³, electricity kWh,
gas m³), the year's totals with per-capita figures and last year's for comparison, and the
readings themselves."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notices.export import Cell, Column, Sheet, workbook_bytes
from notices.meters import KIND_LABELS, place_of
from school.i18n import N_, Translate
from school.profile import SchoolProfile
from school.profile_energy import MeterKind
from storage import meter_rules as rules
from storage import meters as store
from storage.energy_models import MeterReading

MONTHS = range(1, 13)


def energy_filename(year: int, t_: Translate) -> str:
    title = t_("Energy ledger")
    return f"{title}_{year}.xlsx"


def _usage_by_place(
    profile: SchoolProfile, known: dict[str, list[rules.Reading]]
) -> dict[tuple[str, MeterKind], tuple[str, dict[tuple[int, int], float]]]:
    totals: dict[tuple[str, MeterKind], tuple[str, dict[tuple[int, int], float]]] = {}
    for meter in profile.energy.meters:
        place = place_of(profile, meter)
        _unit, summed = totals.setdefault((place, meter.kind), (meter.shown_unit, {}))
        for key, amount in rules.monthly_usage(known.get(meter.key, [])).items():
            summed[key] = summed.get(key, 0.0) + amount
    return totals


LEDGER_HEAD = (N_("Building"), N_("Kind"), N_("Unit"))
SUMMARY_HEAD = (
    N_("Kind"),
    N_("Unit"),
    N_("Total"),
    N_("Per capita"),
    N_("Last year"),
    N_("Change on last year"),
)
READINGS_HEAD = (N_("Date"), N_("Meter"), N_("Building"), N_("Kind"), N_("Reading"), N_("Unit"))


async def energy_workbook(
    session: AsyncSession, profile: SchoolProfile, year: int, t_: Translate
) -> tuple[bytes, int]:
    """The year's ledger as .xlsx bytes, and how many readings it rests on."""
    keys = [m.key for m in profile.energy.meters]
    known = await store.histories(session, keys)
    by_place = _usage_by_place(profile, known)
    number = "0.0"
    ledger_columns = [
        Column(t_(LEDGER_HEAD[0]), 14),
        Column(t_(LEDGER_HEAD[1]), 8),
        Column(t_(LEDGER_HEAD[2]), 6),
    ]
    ledger_columns += [
        Column(t_("Month {month}").format(month=m), 9, number_format=number) for m in MONTHS
    ]
    ledger_columns.append(Column(t_("Total"), 11, number_format=number))
    ledger: list[list[Cell]] = []
    kind_totals: dict[MeterKind, dict[int, float]] = {}
    units: dict[MeterKind, str] = {}
    for (place, kind), (unit, usage) in by_place.items():
        row: list[Cell] = [place, t_(KIND_LABELS[kind]), unit]
        values = [usage.get((year, m), 0.0) for m in MONTHS]
        row += [*(round(v, 1) for v in values), round(sum(values), 1)]
        ledger.append(row)
        units.setdefault(kind, unit)
        for y in (year, year - 1):
            totals = kind_totals.setdefault(kind, {})
            totals[y] = totals.get(y, 0.0) + sum(usage.get((y, m), 0.0) for m in MONTHS)
    headcount = profile.energy.headcount
    summary: list[list[Cell]] = []
    for kind in MeterKind:
        if kind not in kind_totals:
            continue
        total, before = kind_totals[kind][year], kind_totals[kind][year - 1]
        per_capita = round(total / headcount, 2) if headcount else None
        change = round((total - before) / before, 3) if before > 0 else None
        summary.append(
            [
                t_(KIND_LABELS[kind]),
                units[kind],
                round(total, 1),
                per_capita,
                round(before, 1),
                change,
            ]
        )
    summary_columns = [
        Column(t_(SUMMARY_HEAD[0]), 10),
        Column(t_(SUMMARY_HEAD[1]), 6),
        Column(t_(SUMMARY_HEAD[2]), 12, number_format=number),
        Column(t_(SUMMARY_HEAD[3]), 10, number_format="0.00"),
        Column(t_(SUMMARY_HEAD[4]), 12, number_format=number),
        Column(t_(SUMMARY_HEAD[5]), 10, number_format="0.0%"),
    ]
    rows = await session.exec(
        select(MeterReading)
        .where(col(MeterReading.meter_key).in_(keys))
        .order_by(col(MeterReading.day), col(MeterReading.meter_key))
    )
    readings: list[list[Cell]] = []
    for reading in rows.all():
        if reading.day.year != year:
            continue
        meter = profile.energy.meter(reading.meter_key)
        readings.append(
            [
                reading.day,
                meter.name,
                place_of(profile, meter),
                t_(KIND_LABELS[meter.kind]),
                reading.value,
                meter.shown_unit,
            ]
        )
    readings_columns = [
        Column(t_(READINGS_HEAD[0]), 12, number_format="yyyy-mm-dd"),
        Column(t_(READINGS_HEAD[1]), 10),
        Column(t_(READINGS_HEAD[2]), 14),
        Column(t_(READINGS_HEAD[3]), 8),
        Column(t_(READINGS_HEAD[4]), 12, number_format="0.0"),
        Column(t_(READINGS_HEAD[5]), 6),
    ]
    sheets = [
        Sheet(t_("Energy use {year}").format(year=year), ledger_columns, ledger),
        Sheet(t_("Annual statistics"), summary_columns, summary),
        Sheet(t_("Meter readings"), readings_columns, readings),
    ]
    return workbook_bytes(sheets), len(readings)
