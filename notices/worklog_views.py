"""The director's views of the work logs: a day (/logs [date]), a person's history
(/logs <name>) and the leave listing (/leave), as HTML with their buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from notices.render import button, esc, keyboard
from notices.services import Services
from notices.worklogs import LeaveButton, Translate, day_label, render_log
from storage import people, worklogs
from storage.models import Person
from storage.stats import Month

HISTORY_LOGS = 15


def names(persons: Sequence[Person]) -> str:
    """'李师傅、陈阿姨' (HTML)."""
    return "、".join(esc(p.name) for p in persons)


async def day_view(session: AsyncSession, services: Services, day: date, _: Translate) -> str:
    """Every staff member's log of a day: filed (with the logs), missing, on leave."""
    status = await worklogs.day_status(session, day, services.profile)
    lines = [_("📒 <b>Work logs of {day}</b>").format(day=day_label(day, _))]
    if not status.working:
        lines.append(_("(Not a working day.)"))
    late = [p for p, log in status.filed if log.late]
    lines.append(
        _("Filed {filed} · late {late} · missing {missing} · on leave {leave}").format(
            filed=len(status.filed),
            late=len(late),
            missing=len(status.missing),
            leave=len(status.on_leave),
        )
    )
    for person, log in status.filed:
        lines.append("")
        lines.append(render_log(log, services, _, name=person.name))
    if status.missing:
        lines.append("")
        lines.append(_("<b>Missing</b>: {names}").format(names=names(status.missing)))
    if status.on_leave:
        lines.append(_("<b>On leave</b>: {names}").format(names=names(status.on_leave)))
    if not status.filed and not status.missing and not status.on_leave:
        lines.append(_("No staff registered yet."))
    return "\n".join(lines)


async def history_view(
    session: AsyncSession, services: Services, person: Person, _: Translate
) -> str:
    """A staff member's month so far and their latest logs."""
    assert person.id is not None
    today = services.local_now().date()
    month = Month.of(today)
    recent = await worklogs.recent_logs(session, person.id, limit=HISTORY_LOGS)
    stats = (await worklogs.month_stats(session, month, services.profile, today=today)).get(
        person.id
    )
    lines = [_("📒 <b>Work logs of {name}</b>").format(name=esc(person.name))]
    if stats is not None:
        lines.append(
            _(
                "{month}: {expected} working day(s) so far, {on_time} on time, {late} late, "
                "{missing} missing, {leave} on leave"
            ).format(
                month=month,
                expected=stats.expected_days,
                on_time=stats.on_time,
                late=stats.late,
                missing=stats.missing,
                leave=stats.leave_days,
            )
        )
    if recent:
        lines += ["", "\n\n".join(render_log(log, services, _) for log in recent)]
    else:
        lines.append(_("No logs yet."))
    return "\n".join(lines)


async def leave_listing(
    session: AsyncSession, services: Services, _: Translate
) -> tuple[str, InlineKeyboardMarkup | None]:
    """How to record leave, and current and upcoming leave, each with a delete button."""
    today = services.local_now().date()
    leaves = await worklogs.leaves_overlapping(session, today, today + timedelta(days=366))
    everyone = {p.id: p for p in await people.list_people(session, include_inactive=True)}
    lines = [
        esc(
            _(
                "Record leave with /leave <name> <from> <to>, e.g. /leave 李师傅 11-24 11-25 "
                "(a reason may follow)."
            )
        )
    ]
    rows: list[list[InlineKeyboardButton]] = []
    if leaves:
        lines += ["", _("<b>Current and upcoming leave</b>")]
    for index, leave in enumerate(leaves, start=1):
        assert leave.id is not None
        person = everyone.get(leave.person_id)
        name = person.name if person is not None else f"#{leave.person_id}"
        reason = f" · {esc(leave.reason)}" if leave.reason else ""
        lines.append(
            f"{index}. {esc(name)} {leave.start.isoformat()} ~ {leave.end.isoformat()}{reason}"
        )
        label = _("Delete {index}. {name}").format(index=index, name=name[:20])
        rows.append([button(label, LeaveButton(leave.id))])
    return "\n".join(lines), keyboard(rows) if rows else None
