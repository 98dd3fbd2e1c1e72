"""What the meter readings (节约) tell people: the request with its button, the form's prompt,
the questions about a suspicious value, the director's alert with its one-tap repair ticket,
and the monthly energy 通报 with its chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.recipients import tell, tell_group
from notices.render import button, esc, keyboard
from notices.services import Services
from school.i18n import N_, Translate
from school.profile import SchoolProfile
from school.profile_energy import Meter, MeterKind
from storage import meter_rules as rules
from storage.energy_models import EnergyAlert
from storage.meters import Anomaly, Questioned
from storage.models import GroupPurpose, Person

KIND_LABELS = {
    MeterKind.WATER: N_("Water"),
    MeterKind.ELECTRICITY: N_("Electricity"),
    MeterKind.GAS: N_("Gas"),
}


@dataclass(frozen=True)
class ReadingsButton(CallbackData, prefix="mtr", version=1):
    """抄表: open the readings form for a day's round."""

    day: date


class Answer(StrEnum):
    CONFIRM = "ok"
    RETRY = "redo"


@dataclass(frozen=True)
class QuestionButton(CallbackData, prefix="mtq", version=1):
    """A questioned reading: keep it as it is, or type it again."""

    answer: Answer


@dataclass(frozen=True)
class LeakTicketButton(CallbackData, prefix="mtl", version=1):
    """The director's one tap: open a repair ticket (疑似漏水) for an energy alert."""

    alert_id: int


def fmt(value: float) -> str:
    """A reading or an amount without noise: 1234.5, 56789."""
    return f"{value:,.1f}".rstrip("0").rstrip(".").replace(",", "")


def meter_label(profile: SchoolProfile, meter: Meter) -> str:
    """教学楼 水表1"""
    place = profile.building(meter.building).name if meter.building else ""
    return f"{place} {meter.name}".strip()


def place_of(profile: SchoolProfile, meter: Meter) -> str:
    if meter.building:
        return profile.building(meter.building).name
    if meter.campus:
        return next((c.name for c in profile.campuses if c.key == meter.campus), meter.campus)
    return profile.school.short_name


# --- asking for readings ---


async def queue_request(
    session: AsyncSession, services: Services, person: Person, meters: Sequence[Meter], day: date
) -> bool:
    """Ask a reader for the day's readings (once per reader and day)."""

    def message(_: Translate) -> str:
        names = "、".join(esc(m.name) for m in meters)
        return _(
            "📟 Meter reading day ({day}). Please read: {meters}. Press the button and send "
            "all values in one message."
        ).format(day=day.isoformat(), meters=names)

    def markup(_: Translate) -> InlineKeyboardMarkup:
        return keyboard([[button(_("📟 Enter readings"), ReadingsButton(day))]])

    assert person.id is not None
    return await tell(
        session, services, person, f"meters.ask.{day.isoformat()}.{person.id}", message, markup
    )


def prompt(
    profile: SchoolProfile,
    meters: Sequence[Meter],
    last: dict[str, rules.Reading | None],
    day: date,
    _: Translate,
) -> str:
    """The form's prompt: each meter with its last reading, and an example line."""
    lines = [_("<b>Meter readings for {day}</b>").format(day=day.isoformat())]
    for meter in meters:
        previous = last.get(meter.key)
        was = (
            _("last {value} on {day}").format(value=fmt(previous.value), day=previous.day)
            if previous is not None
            else _("no reading yet")
        )
        lines.append(f"• {esc(meter_label(profile, meter))} ({esc(meter.shown_unit)}): {was}")
    example = " ".join(f"{m.name} 1234.5" for m in meters[:2])
    lines += [
        "",
        _(
            "Send the values in one message, e.g. <code>{example}</code>. "
            "You may add a photo of a meter. /cancel to stop."
        ).format(example=esc(example)),
    ]
    return "\n".join(lines)


def questions_text(profile: SchoolProfile, found: Sequence[Questioned], _: Translate) -> str:
    """Why values were not saved as they are, and what to do."""
    lines = []
    for q in found:
        meter = profile.energy.meter(q.meter_key)
        last = fmt(q.last.value) if q.last is not None else "?"
        if q.verdict == rules.Verdict.LOWER:
            why = _("lower than the last reading {last}").format(last=last)
        else:
            why = _("far more use than usual since the last reading {last}").format(last=last)
        lines.append(f"⚠️ {esc(meter.name)} {fmt(q.value)}: {why}")
    lines.append(_("Is that right? Keep the values as they are, or send them again."))
    return "\n".join(lines)


def questions_markup(_: Translate) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                button(_("✅ Keep as is"), QuestionButton(Answer.CONFIRM)),
                button(_("✏️ Enter again"), QuestionButton(Answer.RETRY)),
            ]
        ]
    )


def saved_text(
    profile: SchoolProfile, values: dict[str, float], use: dict[str, float | None], _: Translate
) -> str:
    """The reader's confirmation: each value saved, with the use since the last reading."""
    lines = [_("Saved {count} readings:").format(count=len(values))]
    for key, value in values.items():
        meter = profile.energy.meter(key)
        amount = use.get(key)
        since = (
            _(" (used {amount} {unit} since the last reading)").format(
                amount=fmt(amount), unit=esc(meter.shown_unit)
            )
            if amount is not None
            else ""
        )
        lines.append(f"• {esc(meter.name)} {fmt(value)}{since}")
    return "\n".join(lines)


# --- the director's alert ---


def alert_text(profile: SchoolProfile, anomaly: Anomaly, _: Translate) -> str:
    meter, span = anomaly.meter, anomaly.interval
    head = _("⚠️ Unusual use: {meter}").format(meter=esc(meter_label(profile, meter)))
    period = _("{start} to {end}: {amount} {unit} ({rate} a day)").format(
        start=span.start.isoformat(),
        end=span.end.isoformat(),
        amount=fmt(span.amount),
        unit=esc(meter.shown_unit),
        rate=fmt(span.rate),
    )
    if anomaly.kind == rules.Alarm.CLOSED:
        why = _("The building was closed all that time. A leak, or something left on?")
    else:
        why = _("Up {percent}% on the period before (or the same time last year). A leak?").format(
            percent=round((anomaly.change or 0) * 100)
        )
    return "\n".join([head, period, why])


async def queue_alert(
    session: AsyncSession,
    services: Services,
    directors: Sequence[Person],
    alert: EnergyAlert,
    anomaly: Anomaly,
) -> None:
    """Tell each director of the alert, with the one-tap repair ticket."""
    assert alert.id is not None
    alert_id = alert.id

    def message(_: Translate) -> str:
        return alert_text(services.profile, anomaly, _)

    def markup(_: Translate) -> InlineKeyboardMarkup:
        return keyboard(
            [[button(_("🔧 Open a repair ticket (leak?)"), LeakTicketButton(alert_id))]]
        )

    for director in directors:
        await tell(
            session, services, director, f"meters.alert.{alert_id}.{director.id}", message, markup
        )


def leak_description(profile: SchoolProfile, meter: Meter, alert: EnergyAlert, _: Translate) -> str:
    """The repair ticket's description."""
    return _("Suspected leak: {meter} used {amount} {unit} from {start} to {end}.").format(
        meter=meter_label(profile, meter),
        amount=fmt(alert.amount),
        unit=meter.shown_unit,
        start=alert.period_start.isoformat(),
        end=alert.period_end.isoformat(),
    )


# --- the monthly 通报 ---


@dataclass(frozen=True)
class Line:
    """A building's (or campus') use of one kind in a month, with the comparisons."""

    place: str
    kind: MeterKind
    unit: str
    comparison: rules.Comparison


def _change(value: float | None, _: Translate) -> str:
    if value is None:
        return "—"
    arrow = "↑" if value > 0 else "↓" if value < 0 else ""
    return f"{arrow}{abs(round(value * 100))}%"


def report_text(school: str, month: str, lines: Sequence[Line], _: Translate) -> str:
    """The monthly energy 通报 (HTML)."""
    out = [_("<b>{school} energy report, {month}</b>").format(school=esc(school), month=month)]
    for kind in MeterKind:
        rows = [line for line in lines if line.kind == kind]
        if not rows:
            continue
        out.append("")
        out.append(f"<b>{esc(_(KIND_LABELS[kind]))}</b>")
        for line in rows:
            c = line.comparison
            out.append(
                _(
                    "{place}: {amount} {unit} (on last month {previous}, on last year {year})"
                ).format(
                    place=esc(line.place),
                    amount=fmt(c.amount),
                    unit=esc(line.unit),
                    previous=_change(c.vs_previous, _),
                    year=_change(c.vs_last_year, _),
                )
            )
    out.append("")
    out.append(_("节电节水: switch off lights and taps when leaving."))
    return "\n".join(out)


async def queue_report(
    session: AsyncSession, services: Services, month: str, lines: Sequence[Line]
) -> bool:
    """Queue the 通报 for the staff group (False: no staff group is bound)."""
    school = services.profile.school.short_name

    def message(_: Translate) -> str:
        return report_text(school, month, lines, _)

    group = await tell_group(
        session, services, GroupPurpose.STAFF, f"meters.report.{month}", message
    )
    return group is not None
