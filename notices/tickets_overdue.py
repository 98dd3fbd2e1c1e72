"""What the repair jobs' clock announces: the digest of newly overdue jobs to the repair group
and the alert of urgent jobs nobody took (or overdue jobs without a repair group) to the
directors."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from notices import outbox
from notices.recipients import tell_group
from notices.render import esc, split_text
from notices.services import Services
from notices.tickets import (
    category_name,
    group_translator,
    holder_name,
    local_time,
    translator_for,
    urgency_name,
)
from school.i18n import Translate
from storage import people
from storage import tickets as store
from storage.models import GroupChat, GroupPurpose, Ticket, TicketStatus


def overdue_line(services: Services, ticket: Ticket, holder: str | None, _: Translate) -> str:
    """'• BX-2611-007 实验楼3楼女厕 · 水暖 · 紧急 · 李师傅 — not taken by 11-23 09:30'."""
    profile = services.profile
    if ticket.status == TicketStatus.OPEN and ticket.accept_by is not None:
        late = _("not taken by {time}").format(time=local_time(services, ticket.accept_by))
    elif ticket.finish_by is not None:
        late = _("not finished by {time}").format(time=local_time(services, ticket.finish_by))
    else:
        late = ""
    who = f" · {esc(holder)}" if holder else ""
    return (
        f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)} · "
        f"{esc(category_name(profile, ticket.category_key))} · "
        f"{esc(urgency_name(profile, ticket.urgency_key))}{who} — {late}"
    )


async def queue_overdue(
    session: AsyncSession,
    services: Services,
    *,
    overdue: Sequence[Ticket],
    alerts: Sequence[Ticket],
    stamp: str,
) -> None:
    """One digest of the newly overdue jobs to the repair group; urgent ones to the directors
    (every overdue one when no repair group is bound)."""
    holders = {t.id: await holder_name(session, t) for t in [*overdue, *alerts]}
    group: GroupChat | None = None  # the repair group, once told
    urgent_key = store.most_urgent_key(services.profile)
    if overdue:
        _ = group_translator(services)
        text = "\n".join(
            [
                "⚠️ "
                + _("<b>Overdue repair jobs</b> ({count}); please deal with them:").format(
                    count=len(overdue)
                ),
                *(overdue_line(services, t, holders[t.id], _) for t in overdue),
            ]
        )
        key = f"tickets:overdue:{stamp}"
        digest = split_text(text)[0]
        group = await tell_group(session, services, GroupPurpose.REPAIR, key, lambda _: digest)
    urgent = {t.id: t for t in alerts}
    for ticket in overdue:
        if ticket.urgency_key == urgent_key or group is None:
            urgent.setdefault(ticket.id, ticket)
    if not urgent:
        return
    for director in await people.active_directors(session):
        t_ = translator_for(director, services)
        untaken = [t for t in urgent.values() if t.status == TicketStatus.OPEN]
        late = [t for t in urgent.values() if t.status != TicketStatus.OPEN]
        lines = []
        if untaken:
            lines.append(
                "🚨 "
                + t_("<b>Urgent repairs nobody has taken</b> ({count}):").format(count=len(untaken))
            )
            lines += [overdue_line(services, t, holders.get(t.id), t_) for t in untaken]
        if late:
            lines.append(
                "⚠️ "
                + t_("<b>Overdue repair jobs</b> ({count}); please deal with them:").format(
                    count=len(late)
                )
            )
            lines += [overdue_line(services, t, holders.get(t.id), t_) for t in late]
        await outbox.notify(
            session,
            services,
            key=f"tickets:urgent:{stamp}:{director.id}",
            chat_id=director.telegram_id,
            text=split_text("\n".join(lines))[0],
        )
