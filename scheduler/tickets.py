"""Scheduled jobs of repairs: the overdue digest and urgent alerts, and automatic acceptance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger

from handlers import tickets as th
from notices import outbox
from notices.render import esc, split_text
from notices.services import Services
from scheduler.jobs import JobRun, ScheduledJob
from school.i18n import Translate
from storage import groups, people
from storage import tickets as store
from storage.models import GroupPurpose, Ticket, TicketStatus

OVERDUE_EVERY_MINUTES = 5


def _line(services: Services, ticket: Ticket, holder: str | None, _: Translate) -> str:
    profile = services.profile
    if ticket.status == TicketStatus.OPEN and ticket.accept_by is not None:
        late = _("not taken by {time}").format(time=th.local_time(services, ticket.accept_by))
    elif ticket.finish_by is not None:
        late = _("not finished by {time}").format(time=th.local_time(services, ticket.finish_by))
    else:
        late = ""
    who = f" · {esc(holder)}" if holder else ""
    return (
        f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)} · "
        f"{esc(th.category_name(profile, ticket.category_key))} · "
        f"{esc(th.urgency_name(profile, ticket.urgency_key))}{who} — {late}"
    )


async def check_overdue(run: JobRun) -> None:
    """One digest of newly overdue tickets to the repair group; urgent ones to the directors."""
    services = run.services
    now = services.now()
    stamp = run.occurrence.isoformat()
    urgent_key = store.most_urgent_key(services.profile)
    async with services.database.transaction() as session:
        overdue = await store.claim_overdue(session, now=now)
        alerts = await store.claim_urgent_alerts(session, profile=services.profile, now=now)
        if not overdue and not alerts:
            return
        holders = {t.id: await th.holder_name(session, t) for t in [*overdue, *alerts]}
        group = await groups.group_for(session, GroupPurpose.REPAIR)
        directors = await people.active_directors(session)
        if overdue:
            _ = th.group_translator(services)
            text = "\n".join(
                [
                    "⚠️ "
                    + _("<b>Overdue repair jobs</b> ({count}); please deal with them:").format(
                        count=len(overdue)
                    ),
                    *(_line(services, t, holders[t.id], _) for t in overdue),
                ]
            )
            if group is not None:
                await outbox.notify(
                    session,
                    services,
                    key=f"tickets:overdue:{stamp}",
                    chat_id=group.chat_id,
                    text=split_text(text)[0],
                )
        urgent = {t.id: t for t in alerts}
        for ticket in overdue:
            if ticket.urgency_key == urgent_key or group is None:
                urgent.setdefault(ticket.id, ticket)
        if not urgent:
            return
        for director in directors:
            t_ = th.translator_for(director, services)
            untaken = [t for t in urgent.values() if t.status == TicketStatus.OPEN]
            late = [t for t in urgent.values() if t.status != TicketStatus.OPEN]
            lines = []
            if untaken:
                lines.append(
                    "🚨 "
                    + t_("<b>Urgent repairs nobody has taken</b> ({count}):").format(
                        count=len(untaken)
                    )
                )
                lines += [_line(services, t, holders.get(t.id), t_) for t in untaken]
            if late:
                lines.append(
                    "⚠️ "
                    + t_("<b>Overdue repair jobs</b> ({count}); please deal with them:").format(
                        count=len(late)
                    )
                )
                lines += [_line(services, t, holders.get(t.id), t_) for t in late]
            await outbox.notify(
                session,
                services,
                key=f"tickets:urgent:{stamp}:{director.id}",
                chat_id=director.telegram_id,
                text=split_text("\n".join(lines))[0],
            )


def _auto_message(services: Services, ticket: Ticket) -> Callable[[Translate], str]:
    profile = services.profile

    def message(t_: Translate) -> str:
        return t_(
            "{ticket} waited {days} days for your acceptance, so it was accepted "
            "automatically with the default rating {stars}."
        ).format(
            ticket=th.ticket_head(ticket, services),
            days=profile.repair.auto_accept_days,
            stars=th.stars(profile.repair.default_rating),
        )

    return message


async def auto_accept(run: JobRun) -> None:
    """Close jobs left in 待验收 too long (default rating); tell the reporter."""
    services = run.services
    profile = services.profile
    async with services.database.transaction() as session:
        changes = await store.auto_accept_due(session, profile=profile, now=services.now())
        for change in changes:
            ticket, event = change.ticket, change.event
            assert event is not None
            await th.tell_reporter(
                session, services, ticket, event, _auto_message(services, ticket)
            )
    for change in changes:
        assert change.ticket.id is not None
        await th.refresh_card(run.application.bot, services, change.ticket.id)


def jobs(services: Services) -> list[ScheduledJob]:
    """This feature's jobs, built from the school profile."""
    tz = services.profile.tz
    return [
        ScheduledJob(
            name="tickets.overdue",
            description="Overdue repair digest to the repair group; urgent alerts to directors",
            trigger=CronTrigger(minute=f"*/{OVERDUE_EVERY_MINUTES}", timezone=tz),
            run=check_overdue,
            catch_up=timedelta(minutes=OVERDUE_EVERY_MINUTES * 2),
        ),
        ScheduledJob(
            name="tickets.auto_accept",
            description="Accept repairs left waiting for acceptance too long",
            trigger=CronTrigger(minute=15, timezone=tz),
            run=auto_accept,
            catch_up=timedelta(hours=2),
        ),
    ]
