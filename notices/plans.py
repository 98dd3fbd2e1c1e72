"""What the semester plan (学期工作计划) tells people: /plan by status, the owners' reminders
with the progress button, the progress form's prompts, the weekly digest to the leaders'
group and the overdue flag to the directors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.recipients import tell, tell_group
from notices.render import button, esc, keyboard
from notices.services import Services
from school.i18n import N_, Translate
from storage.models import GroupPurpose, Person
from storage.plan_models import PlanItem
from storage.plans import Entry, Status

STATUS_LABELS = {
    Status.OVERDUE: N_("⏰ Overdue"),
    Status.DUE_SOON: N_("📅 Due within a week"),
    Status.IN_PROGRESS: N_("🔨 In progress"),
    Status.NOT_STARTED: N_("⬜ Not started"),
    Status.DONE: N_("✅ Done"),
}
PERCENTS = (10, 25, 50, 75, 100)


@dataclass(frozen=True)
class ProgressButton(CallbackData, prefix="pln", version=1):
    """汇报进度: open the progress form of an item."""

    item_id: int


@dataclass(frozen=True)
class PercentButton(CallbackData, prefix="plnp", version=1):
    """The progress form's percentage."""

    item_id: int
    percent: int


@dataclass(frozen=True)
class SkipNoteButton(CallbackData, prefix="plnn", version=1):
    """The progress form: save without a note."""

    item_id: int


def item_line(entry: Entry, today: date, _: Translate, *, owner: bool = True) -> str:
    """One item: title, owner, due date, percent, and the next milestone."""
    item = entry.item
    parts = [f"<b>{esc(item.title)}</b>"]
    if owner:
        parts.append(esc(item.owner_label))
    parts.append(_("due {day}").format(day=item.due.isoformat()))
    parts.append(f"{item.percent}%")
    line = " · ".join(parts)
    upcoming = [m for m in entry.milestones if m.due >= today]
    if upcoming and item.percent < 100:
        stone = upcoming[0]
        line += "\n    " + _("next: {title} by {day}").format(
            title=esc(stone.title), day=stone.due.isoformat()
        )
    return line


def overview(
    semester: str | None, found: Sequence[Entry], today: date, _: Translate, *, mine: bool
) -> str:
    """/plan: the items by status."""
    if semester is None or not found:
        if mine:
            return _("No plan items are yours this semester.")
        return _("No semester plan yet. Import one with: houqin plan import plan.xlsx")
    title = _("My plan items, {semester}") if mine else _("Semester plan {semester}")
    lines = [f"<b>{esc(title.format(semester=semester))}</b>"]
    for status in Status:
        rows = [e for e in found if e.status(today) == status]
        if not rows:
            continue
        lines += ["", f"{_(STATUS_LABELS[status])} ({len(rows)})"]
        lines += [f"• {item_line(e, today, _, owner=not mine)}" for e in rows]
    done = sum(1 for e in found if e.status(today) == Status.DONE)
    lines += ["", _("{done} of {count} done").format(done=done, count=len(found))]
    return "\n".join(lines)


def progress_markup(items: Sequence[PlanItem], _: Translate) -> InlineKeyboardMarkup | None:
    """A 📝 button per open item (at most eight)."""
    rows = [
        [button(_("📝 {title}").format(title=i.title[:30]), ProgressButton(i.id or 0))]
        for i in items
        if i.percent < 100
    ][:8]
    return keyboard(rows) if rows else None


# --- reminders, digest, overdue --------------------------------------------------------------


async def queue_reminder(
    session: AsyncSession,
    services: Services,
    person: Person,
    item: PlanItem,
    deadline: date,
    milestone: str | None,
    days: int,
) -> bool:
    """Remind an owner of a milestone or the due date (once per deadline and reminder)."""
    assert item.id is not None and person.id is not None
    item_id = item.id

    def message(_: Translate) -> str:
        what = (
            _("Milestone “{milestone}” of {title}").format(
                milestone=esc(milestone), title=esc(item.title)
            )
            if milestone
            else _("Plan item {title}").format(title=esc(item.title))
        )
        return _("⏳ {what} is due on {day} (in {days} days). Now at {percent}%.").format(
            what=what, day=deadline.isoformat(), days=days, percent=item.percent
        )

    def markup(_: Translate) -> InlineKeyboardMarkup:
        return keyboard([[button(_("📝 Report progress"), ProgressButton(item_id))]])

    key = f"plans.remind.{item_id}.{deadline.isoformat()}.{days}.{person.id}"
    return await tell(session, services, person, key, message, markup)


def digest_text(
    semester: str, found: Sequence[Entry], today: date, week_end: date, _: Translate
) -> str:
    """The weekly digest: progress, due this week, overdue (with the owner's last note)."""
    lines = [_("<b>Semester plan {semester}: weekly digest</b>").format(semester=esc(semester))]
    done = [e for e in found if e.status(today) == Status.DONE]
    average = round(sum(e.item.percent for e in found) / len(found)) if found else 0
    lines.append(
        _("{done} of {count} items done, {average}% on average.").format(
            done=len(done), count=len(found), average=average
        )
    )
    week = [e for e in found if e.item.percent < 100 and today <= e.item.due <= week_end]
    stones = [
        (e, m)
        for e in found
        for m in e.milestones
        if e.item.percent < 100 and today <= m.due <= week_end
    ]
    if week or stones:
        lines += ["", _("<b>Due this week</b>")]
        lines += [f"• {item_line(e, today, _)}" for e in week]
        lines += [
            "• "
            + _("{title}: milestone “{milestone}” on {day}").format(
                title=esc(e.item.title), milestone=esc(m.title), day=m.due.isoformat()
            )
            for e, m in stones
        ]
    late = [e for e in found if e.status(today) == Status.OVERDUE]
    if late:
        lines += ["", _("<b>Overdue</b>")]
        for e in late:
            lines.append(f"• {item_line(e, today, _)}")
            if e.item.note:
                lines.append("    " + _("last note: {note}").format(note=esc(e.item.note)))
    return "\n".join(lines)


async def queue_digest(
    session: AsyncSession,
    services: Services,
    key: str,
    semester: str,
    found: Sequence[Entry],
    today: date,
    week_end: date,
) -> bool:
    """The digest to the leaders' group (False: none is bound)."""

    def message(_: Translate) -> str:
        return digest_text(semester, found, today, week_end, _)

    group = await tell_group(session, services, GroupPurpose.LEADERS, key, message)
    return group is not None


async def queue_overdue(
    session: AsyncSession, services: Services, directors: Sequence[Person], item: PlanItem
) -> None:
    """Flag an overdue item to the directors, with the owner's last note."""
    assert item.id is not None
    item_id = item.id

    def message(_: Translate) -> str:
        lines = [
            _("⏰ Plan item overdue: {title}").format(title=esc(item.title)),
            _("Owner {owner}, due {day}, at {percent}%.").format(
                owner=esc(item.owner_label), day=item.due.isoformat(), percent=item.percent
            ),
            _("Last note: {note}").format(note=esc(item.note))
            if item.note
            else _("No progress reported yet."),
        ]
        return "\n".join(lines)

    for director in directors:
        await tell(session, services, director, f"plans.overdue.{item_id}.{director.id}", message)


# --- the progress form -----------------------------------------------------------------------


def percent_prompt(item: PlanItem, _: Translate) -> tuple[str, InlineKeyboardMarkup]:
    assert item.id is not None
    text = _("<b>{title}</b> (due {day}, now {percent}%). How far along is it?").format(
        title=esc(item.title), day=item.due.isoformat(), percent=item.percent
    )
    rows = [[button(f"{p}%", PercentButton(item.id, p)) for p in PERCENTS]]
    return text, keyboard(rows)


def note_prompt(item: PlanItem, percent: int, _: Translate) -> tuple[str, InlineKeyboardMarkup]:
    assert item.id is not None
    text = _(
        "{percent}% for {title}. Send a short note of what was done (a photo with a caption "
        "works too), or save without one."
    ).format(percent=percent, title=esc(item.title))
    return text, keyboard([[button(_("Save without a note"), SkipNoteButton(item.id))]])


def saved_text(item: PlanItem, _: Translate) -> str:
    return _("Progress saved: {title} {percent}%.").format(
        title=esc(item.title), percent=item.percent
    )
