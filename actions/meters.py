"""Use cases of the meter readings (节约), each one transaction with its notices: ask the
readers on a reading day, save a reader's values (or question the suspicious ones), alert the
directors of a rise or of use while closed, open the repair ticket of an alert, and publish
the monthly energy 通报 with its chart once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot
from telegram.error import TelegramError

from notices import meters as notices
from notices import outbox
from notices import tickets as ticket_notices
from notices.meters_chart import report_png
from notices.recipients import group_translator
from notices.services import Services
from school.profile import SchoolProfile
from school.profile_energy import Meter, MeterKind
from storage import groups, people
from storage import meter_rules as rules
from storage import meters as store
from storage import tickets as ticket_store
from storage.models import GroupPurpose, Person, Role, Ticket
from storage.stats import Month

log = logging.getLogger(__name__)
LEAK_CATEGORY = "plumbing"


async def readers(
    session: AsyncSession, profile: SchoolProfile
) -> list[tuple[Person, list[Meter]]]:
    """Each active staff member whose post reads meters, with those meters."""
    found = []
    for person in await people.list_people(session):
        if Role(person.role) == Role.TEACHER:
            continue
        meters = profile.energy.meters_of_post(person.post_key)
        if meters:
            found.append((person, meters))
    return found


async def ask_readings(services: Services, occurrence: datetime) -> int:
    """On a reading day, ask each reader for their meters (once per reader and day); how many
    were asked."""
    profile = services.profile
    day = occurrence.astimezone(profile.tz).date()
    if not profile.energy.is_reading_day(profile.calendar, day):
        return 0
    asked = 0
    async with services.database.transaction() as session:
        for person, meters in await readers(session, profile):
            asked += await notices.queue_request(session, services, person, meters, day)
    return asked


async def last_readings(
    services: Services, meters: Sequence[Meter], day: date
) -> dict[str, rules.Reading | None]:
    """Each meter's latest reading before `day`."""
    async with services.database.reading() as session:
        known = await store.histories(session, [m.key for m in meters])
    return {
        key: max((r for r in found if r.day < day), key=lambda r: r.day, default=None)
        for key, found in known.items()
    }


@dataclass
class Submitted:
    """What a reader's values came to: questioned (nothing saved), or saved with the use since
    each meter's last reading and the alerts raised."""

    questioned: list[store.Questioned] = field(default_factory=list)
    saved: dict[str, float] = field(default_factory=dict)
    use: dict[str, float | None] = field(default_factory=dict)
    alerts: int = 0


async def submit(
    services: Services,
    person: Person,
    day: date,
    values: dict[str, float],
    *,
    photo: str | None,
    confirmed: bool,
) -> Submitted:
    """Save a reader's values for a day, unless some look wrong and are not yet confirmed
    (then nothing is saved). Alerts of the saved meters go to the directors in the same
    transaction."""
    profile = services.profile
    async with services.database.transaction() as session:
        questioned = await store.question(session, profile, values, day)
        if questioned and not confirmed:
            return Submitted(questioned=questioned)
        kept = {q.meter_key: q.verdict.value for q in questioned}
        await store.save(
            session,
            values,
            day=day,
            person_id=person.id,
            photo=photo,
            confirmed=kept,
            now=services.now(),
        )
        known = await store.histories(session, list(values))
        directors = await people.active_directors(session)
        result = Submitted(saved=dict(values))
        for key in values:
            readings = [r for r in known[key] if r.day <= day]
            earlier = [r for r in readings if r.day < day]
            used = values[key] - earlier[-1].value if earlier else None
            result.use[key] = used if used is not None and used >= 0 else None
            meter = profile.energy.meter(key)
            for anomaly in store.anomalies_of(profile, meter, readings):
                alert = await store.record_alert(session, anomaly, now=services.now())
                if alert is not None:
                    await notices.queue_alert(session, services, directors, alert, anomaly)
                    result.alerts += 1
    return result


@dataclass(frozen=True)
class LeakTicket:
    ticket: Ticket
    created: bool


async def open_leak_ticket(
    services: Services, alert_id: int, director: Person
) -> LeakTicket | None:
    """File the alert's repair ticket (疑似漏水) once, with its card; None: no such alert."""
    profile = services.profile
    async with services.database.transaction() as session:
        alert = await store.get_alert(session, alert_id)
        if alert is None:
            return None
        if alert.ticket_id is not None:
            ticket = await session.get(Ticket, alert.ticket_id)
            assert ticket is not None
            return LeakTicket(ticket, created=False)
        meter = profile.energy.meter(alert.meter_key)
        t_ = group_translator(services)
        place = notices.place_of(profile, meter)
        report = ticket_store.Report(
            category=LEAK_CATEGORY if meter.kind == MeterKind.WATER else _category(profile, meter),
            place=place,
            description=notices.leak_description(profile, meter, alert, t_),
            urgency=profile.default_urgency.key,
            building=meter.building,
        )
        ticket = await ticket_store.create_ticket(
            session,
            report,
            ticket_store.Reporter.of(director),
            profile=profile,
            now=services.now(),
            source="energy",
        )
        assert ticket.id is not None
        await store.link_ticket(session, alert_id, ticket.id)
        await ticket_notices.queue_publication(session, services, ticket)
    return LeakTicket(ticket, created=True)


def _category(profile: SchoolProfile, meter: Meter) -> str:
    wanted = "electric" if meter.kind == MeterKind.ELECTRICITY else "canteen"
    keys = {c.key for c in profile.repair.categories}
    return wanted if wanted in keys else profile.default_category.key


# --- use per place and month ---


def month_lines(
    profile: SchoolProfile, known: dict[str, list[rules.Reading]], year: int, month: int
) -> list[notices.Line]:
    """Each place's use of each kind in a month, against the month before and last year
    (places in the profile's order; a place whose meters have no use is left out)."""
    totals: dict[tuple[str, MeterKind], tuple[str, dict[tuple[int, int], float]]] = {}
    for meter in profile.energy.meters:
        usage = rules.monthly_usage(known.get(meter.key, []))
        place = notices.place_of(profile, meter)
        unit, summed = totals.setdefault((place, meter.kind), (meter.shown_unit, {}))
        for key, amount in usage.items():
            summed[key] = summed.get(key, 0.0) + amount
    lines = []
    for (place, kind), (unit, usage) in totals.items():
        comparison = rules.compare(usage, year, month)
        if (year, month) in usage:
            lines.append(notices.Line(place, kind, unit, comparison))
    return lines


async def all_histories(services: Services) -> dict[str, list[rules.Reading]]:
    async with services.database.reading() as session:
        return await store.histories(session, [m.key for m in services.profile.energy.meters])


async def publish_report(bot: Bot, services: Services, month: Month) -> bool:
    """The month's energy 通报 to the staff group, once across restarts: claimed and queued in
    one transaction; then the chart is posted once (retried by a later run if Telegram failed).
    True when this call claimed it; a month no reading covers is not reported."""
    profile = services.profile
    known = await all_histories(services)
    lines = month_lines(profile, known, month.year, month.month)
    if not lines:
        log.info("no meter readings cover %s: no energy report", month)
        return False
    async with services.database.transaction() as session:
        if await groups.group_for(session, GroupPurpose.STAFF) is None:
            return False  # nowhere to post: the next run tries again
        claimed = await store.claim_report(session, str(month), now=services.now())
        if claimed:
            await notices.queue_report(session, services, str(month), lines)
    await outbox.deliver(bot, services)
    await send_chart_once(bot, services, month, lines)
    return claimed


async def send_chart_once(
    bot: Bot, services: Services, month: Month, lines: Sequence[notices.Line]
) -> bool:
    """Post the month's chart unless it was posted (or there is none to draw)."""
    async with services.database.transaction() as session:
        report = await store.get_report(session, str(month))
        group = await groups.group_for(session, GroupPurpose.STAFF)
    if report is None or report.chart != store.CHART_PENDING or group is None:
        return False
    t_ = group_translator(services)
    title = t_("Energy use {month}").format(month=str(month))
    png = await asyncio.to_thread(report_png, title, lines, t_, services.settings.chart_font_path)
    if png is None:
        async with services.database.transaction() as session:
            await store.set_chart(session, str(month), store.CHART_NONE)
        return False
    try:
        await bot.send_photo(group.chat_id, photo=png, caption=title)
    except TelegramError as exc:
        log.warning("energy chart of %s not sent (will retry): %s", month, exc)
        return False
    async with services.database.transaction() as session:
        await store.set_chart(session, str(month), store.CHART_SENT)
    return True
