"""A place's repair history (/place 教学楼302 and the 📍 button on a card), and the director's
notice of a place with repeated faults (修还是换?), queued through the outbox."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from notices.recipients import tell, translator_for
from notices.render import esc
from notices.services import Services
from notices.ticket_costs import cost_summary
from notices.tickets import category_name, local_time, result_label, stars, status_label
from school.i18n import Translate
from storage import people
from storage import place_history as places
from storage import ticket_costs as costs
from storage.models import PlaceFlag, Ticket, TicketStatus
from storage.place_history import PlaceHistory

DESCRIPTION_LIMIT = 40


def _fix_line(services: Services, ticket: Ticket, worker: str | None, _: Translate) -> str:
    """'• 11-20 BX-2611-007 水暖 · 水龙头一直滴水 — 李师傅 · Fixed · ★★★★☆'"""
    when = local_time(services, ticket.created_at)[:5]
    what = ticket.description.strip().splitlines()[0] if ticket.description.strip() else ""
    if len(what) > DESCRIPTION_LIMIT:
        what = what[:DESCRIPTION_LIMIT] + "…"
    line = (
        f"• {esc(when)} <b>{esc(ticket.number)}</b> "
        f"{esc(category_name(services.profile, ticket.category_key))}"
    )
    if what:
        line += f" · {esc(what)}"
    outcome = []
    if worker:
        outcome.append(esc(worker))
    if ticket.result and ticket.status in (TicketStatus.AWAITING_ACCEPTANCE, TicketStatus.CLOSED):
        outcome.append(result_label(ticket.result, _))
    else:
        outcome.append(status_label(ticket.status, _))
    if ticket.rating:
        outcome.append(stars(ticket.rating))
    if ticket.rework_count:
        outcome.append(_("reworked {count}×").format(count=ticket.rework_count))
    return line + " — " + " · ".join(outcome)


async def history_text(
    session: AsyncSession, services: Services, found: PlaceHistory, _: Translate
) -> str:
    """The history of a place: how many tickets, the materials and cost, the last fixes."""
    lines = [
        "📍 "
        + _("<b>{place}</b>: {count} repair ticket(s)").format(
            place=esc(found.label), count=found.count
        )
    ]
    materials = [
        f"{name} ×{costs.quantity_text(quantity)}{unit} {costs.money_text(cost)}"
        for name, unit, quantity, cost in found.materials
    ]
    if materials:
        lines.append("🧰 " + _("Materials: {lines}").format(lines=esc("; ".join(materials))))
    summary = cost_summary([], found.hours, _)
    cost = "💰 " + _("Cost {amount}").format(amount=costs.money_text(found.cost))
    lines.append(" · ".join([cost, *summary]))
    workers = await costs.names_of(session, (t.assignee_id for t in found.tickets))
    lines.append(_("Latest:"))
    lines += [_fix_line(services, t, workers.get(t.assignee_id or 0), _) for t in found.tickets]
    if found.count > len(found.tickets):
        lines.append(_("… and {count} earlier.").format(count=found.count - len(found.tickets)))
    return "\n".join(lines)


async def flag_repeats(session: AsyncSession, services: Services, ticket: Ticket) -> bool:
    """In the filing transaction of `ticket`: when its place reached the profile's count of
    faults, tell the directors once, with the place's history (修还是换?)."""
    flag = await places.claim_repeat_flag(
        session, ticket, profile=services.profile, now=services.now()
    )
    if flag is None:
        return False
    found = await places.history(session, ticket.place_key)
    assert found is not None
    for director in await people.active_directors(session):
        t_ = translator_for(director, services)
        text = await _flag_text(session, services, flag, found, t_)
        key = f"place:{flag.id}:repeat:{director.id}"
        await tell(session, services, director, key, _written(text))
    return True


def _written(text: str) -> Callable[[Translate], str]:
    """A message already written in its reader's language."""

    def message(_: Translate) -> str:
        return text

    return message


async def _flag_text(
    session: AsyncSession,
    services: Services,
    flag: PlaceFlag,
    found: PlaceHistory,
    t_: Translate,
) -> str:
    rule = services.profile.repair.repeat_faults
    head = "⚠️ " + t_(
        "<b>Repeated faults at {place}</b>: {count} in {days} days. Repair again, or replace?"
    ).format(place=esc(found.label), count=flag.faults, days=rule.days)
    return head + "\n\n" + await history_text(session, services, found, t_)
