"""What the work logs (工作日志) tell people: the log form and a filed log, the reminders and
the evening summary, leave and post-duties notices, and the buttons they carry.

Used by the handlers (answers to the person acting) and by the actions and jobs (notices
queued in the outbox in the caller's transaction) alike. The director's views (/logs,
/leave's listing) are in `notices.worklog_views`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.recipients import tell
from notices.render import TELEGRAM_TEXT_LIMIT, button, esc, keyboard, language_of, queue_long
from notices.services import Services
from school.i18n import N_, translator
from school.profile import SchoolProfile
from storage import groups, people, post_duties, worklogs
from storage.models import GroupPurpose, Leave, Person, PostDuties, WorkLog
from storage.post_duties import DutiesStatus
from storage.worklogs import Access, LogItem, Saved

Translate = Callable[[str], str]

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
RESULT_LABELS = {  # the repair results, as the tickets feature names them
    "fixed": N_("Fixed"),
    "replaced": N_("Replaced with a new one"),
    "unfixable": N_("Cannot be fixed"),
}
DONE_LABEL = N_("done")
DUTIES_OUTCOMES = {
    DutiesStatus.APPROVED: N_("approved"),
    DutiesStatus.RETURNED: N_("returned"),
    DutiesStatus.WITHDRAWN: N_("replaced by a newer draft"),
    DutiesStatus.PENDING: N_("pending"),
}
RECENT_LOGS = 10


# --- buttons --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogDayButton(CallbackData, prefix="wl", version=2):
    """Opens the log form of a day (the reminder's button, /mylogs)."""

    day: date


class LogFormAction(StrEnum):
    """The buttons under the log form."""

    SAVE = "save"
    UNDO = "undo"
    CLEAR = "clear"
    HOURS = "hours"
    CANCEL = "cancel"


@dataclass(frozen=True)
class LogFormButton(CallbackData, prefix="wlf", version=1):
    """A button of the log form of `day`."""

    action: LogFormAction
    day: date


@dataclass(frozen=True)
class LeaveButton(CallbackData, prefix="wlv", version=1):
    """Deletes a leave record (/leave's listing)."""

    leave_id: int


@dataclass(frozen=True)
class DraftDutiesButton(CallbackData, prefix="wdn", version=1):
    """✏️ Draft my duties (under /duties)."""


class DutiesDecision(StrEnum):
    """The director's buttons under a post-duties draft."""

    APPROVE = "ok"
    RETURN = "ret"


@dataclass(frozen=True)
class DutiesButton(CallbackData, prefix="wd", version=2):
    """Approve or return a post-duties draft."""

    decision: DutiesDecision
    duties_id: int


# --- days, facts and a filed log ------------------------------------------------------------------


def day_label(day: date, _: Translate) -> str:
    """'2026-11-23 (Mon)' in the reader's language."""
    return f"{day.isoformat()} ({_(WEEKDAYS[day.weekday()])})"


def cutoff_text(services: Services) -> str:
    """The day's cutoff, 'HH:MM'."""
    return services.profile.worklog.cutoff_time.strftime("%H:%M")


def item_text(item: LogItem, profile: SchoolProfile, _: Translate) -> str:
    """A log item as the reader reads it: a written line as written; a fact the bot knew
    ("维修：BX-2611-007 实验楼3楼女厕 水暖 已修复") in the reader's language."""
    if isinstance(item, str):
        return item
    if "service" in item:
        try:
            venue = profile.bookings.venue(item.get("venue", "")).name
        except KeyError:
            venue = item.get("venue", "")
        return _("Meeting service: {number} {title} ({venue})").format(
            number=item["service"], title=item.get("title", ""), venue=venue
        )
    if "repair" in item:
        try:
            category = profile.category(item.get("category", "")).name
        except KeyError:
            category = item.get("category", "")
        result = _(RESULT_LABELS.get(item.get("result", ""), DONE_LABEL))
        return _("Repair: {number} {place} {category} {result}").format(
            number=item["repair"], place=item.get("place", ""), category=category, result=result
        )
    try:
        plan = profile.inspection_plan(item.get("inspection", "")).name
    except KeyError:
        plan = item.get("inspection", "")
    return _("Inspection: {plan}").format(plan=plan)


def duties_for(
    services: Services, person: Person, approved: PostDuties | None
) -> tuple[list[str], bool]:
    """(duty lines, approved?) — the approved draft, else the profile's post duties."""
    if approved is not None:
        return post_duties.duties_lines(approved.text), True
    try:
        post = services.profile.post(person.post_key) if person.post_key else None
    except KeyError:
        post = None
    return (list(post.duties) if post is not None else []), False


def _extras(photos: int, hours: float | None, _: Translate) -> list[str]:
    extras = []
    if photos:
        extras.append(_("📷 {count} photo(s)").format(count=photos))
    if hours is not None:
        extras.append(_("⏱ {hours} h").format(hours=f"{hours:g}"))
    return extras


def render_log(log: WorkLog, services: Services, _: Translate, *, name: str | None = None) -> str:
    """A filed log as HTML: day, late mark, numbered items, photos, hours and filing time."""
    head = f"<b>{esc(name)}</b> · " if name else ""
    head += f"<b>{day_label(log.day, _)}</b>"
    if log.late:
        head += " · " + _("⏰ late (补交)")
    lines = [head]
    profile = services.profile
    lines += [
        f"{n}. {esc(item_text(item, profile, _))}" for n, item in enumerate(log.items, start=1)
    ]
    extras = _extras(len(log.photos), log.hours, _)
    filed = log.filed_at.astimezone(services.settings.tz)
    extras.append(_("filed {time}").format(time=filed.strftime("%m-%d %H:%M")))
    if log.updated_at > log.filed_at:
        updated = log.updated_at.astimezone(services.settings.tz)
        extras.append(_("edited {time}").format(time=updated.strftime("%m-%d %H:%M")))
    lines.append(" · ".join(extras))
    return "\n".join(lines)


# --- the log form ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogSheet:
    """What the log form shows: the unsaved log of a day and what surrounds it."""

    day: date
    mode: Access
    items: Sequence[LogItem]
    photos: int = 0
    hours: float | None = None
    filed_at: str | None = None  # 'HH:MM' of the log being edited
    duties: Sequence[str] = ()
    duties_approved: bool = False
    prefilled: bool = False  # the items are the bot's draft of the day


def log_form_keyboard(day: date, _: Translate) -> InlineKeyboardMarkup:
    """Save, remove last, clear, hours and cancel under the log form of `day`."""

    def action(label: str, what: LogFormAction) -> InlineKeyboardButton:
        return button(label, LogFormButton(what, day))

    return keyboard(
        [
            [action(_("✅ Save"), LogFormAction.SAVE)],
            [
                action(_("↩ Remove last"), LogFormAction.UNDO),
                action(_("🗑 Clear"), LogFormAction.CLEAR),
            ],
            [
                action(_("⏱ Hours"), LogFormAction.HOURS),
                action(_("✖ Cancel"), LogFormAction.CANCEL),
            ],
        ]
    )


SHOWN_ITEM_CHARS = 300  # the draft view shows an item up to this long; the log keeps it all


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def log_form_text(
    sheet: LogSheet, services: Services, _: Translate, *, limit: int = TELEGRAM_TEXT_LIMIT
) -> str:
    """The log form (HTML): the day, its mode, the post duties, the items so far.

    Always one message (it is edited in place as lines come): when the items do not all fit,
    the latest are shown under a line saying how many earlier ones are kept but not shown."""
    head = [_("📝 <b>Work log · {day}</b>").format(day=day_label(sheet.day, _))]
    if sheet.mode == Access.LATE:
        head.append(_("⏰ Late filing (补交): this log will be marked late."))
    elif sheet.mode == Access.EDIT:
        head.append(
            _("✏️ Editing the log you filed at {time}; changes are possible until {cutoff}.").format(
                time=sheet.filed_at or "", cutoff=cutoff_text(services)
            )
        )
    if not services.profile.calendar.is_working_day(sheet.day):
        head.append(_("(Not a working day: a log is optional.)"))
    duties: list[str] = []
    if sheet.duties:
        title = _("<b>Your post duties</b>") if sheet.duties_approved else _("<b>Post duties</b>")
        duties = [
            "",
            title,
            *(f"• {esc(_clipped(duty, SHOWN_ITEM_CHARS))}" for duty in sheet.duties),
        ]
    if sheet.prefilled:
        items_title = _("<b>Items</b> (pre-filled from what I know you did today; edit as needed)")
    else:
        items_title = _("<b>Items</b>")
    items = [
        f"{n}. {esc(_clipped(item_text(item, services.profile, _), SHOWN_ITEM_CHARS))}"
        for n, item in enumerate(sheet.items, start=1)
    ] or [_("(none yet)")]
    tail = []
    extras = _extras(sheet.photos, sheet.hours, _)
    if extras:
        tail.append(" · ".join(extras))
    tail.append("")
    tail.append(
        _(
            "Send what you did, one item per line (several messages are fine); photos are "
            "welcome. Send -2 to remove item 2. Press Save when done."
        )
    )

    def compose(duties: list[str], items: list[str], hidden: int) -> str:
        more = [_("… {count} earlier item(s), kept but not shown here").format(count=hidden)]
        return "\n".join(
            [*head, *duties, "", items_title, *(more if hidden else []), *items, *tail]
        )

    text = compose(duties, items, 0)
    if len(text) <= limit:
        return text
    if len(compose(duties, items[-1:], len(items) - 1)) > limit:
        duties = []  # only a post's very long duties can crowd out the items
    shown = 1
    while shown < len(items):
        more = items[-shown - 1 :]
        if len(compose(duties, more, len(items) - len(more))) > limit:
            break
        shown += 1
    return compose(duties, items[-shown:], len(items) - shown)


def access_refusal(
    rule: Access, day: date, existing: WorkLog | None, services: Services, _: Translate
) -> str:
    """Why the log of `day` cannot be opened or saved now (HTML)."""
    label = day_label(day, _)
    if rule == Access.FUTURE:
        return _("{day} has not come yet; logs are written on the day or later.").format(day=label)
    if rule == Access.TOO_OLD:
        return _(
            "The log of {day} can no longer be filed: late filing (补交) is possible for "
            "{days} day(s) only. Ask the logistics director if this is a mistake."
        ).format(day=label, days=services.profile.worklog.late_days)
    text = _(
        "The log of {day} was filed and the cutoff ({cutoff}) has passed, so it can no "
        "longer be changed."
    ).format(day=label, cutoff=cutoff_text(services))
    if existing is not None:
        text += "\n\n" + render_log(existing, services, _)
    return text


def saved_text(saved: Saved, services: Services, _: Translate) -> str:
    """The answer to a saved log (HTML): what was filed, and until when it can change."""
    if not saved.created:
        head = _("✅ Your log for {day} is updated.")
    elif saved.log.late:
        head = _("✅ Your log for {day} is saved as late filing (补交).")
    else:
        head = _("✅ Your log for {day} is saved.")
    day = saved.log.day
    text = head.format(day=day_label(day, _)) + "\n\n" + render_log(saved.log, services, _)
    if not saved.log.late:
        text += "\n" + _("You can change it with /log until {cutoff}.").format(
            cutoff=cutoff_text(services)
        )
    return text


async def my_logs(
    session: AsyncSession, services: Services, person: Person, _: Translate
) -> tuple[str, InlineKeyboardMarkup | None]:
    """/mylogs: one's recent logs, with buttons for today and for days still open for 补交."""
    assert person.id is not None
    profile = services.profile
    now = services.now()
    today = services.local_now().date()
    # 补交 reaches back late_days, but never before the person was registered.
    registered = person.created_at.astimezone(profile.tz).date()
    start = max(today - timedelta(days=profile.worklog.late_days), registered)
    recent = await worklogs.recent_logs(session, person.id, limit=RECENT_LOGS)
    window = await worklogs.logs_between(session, start, today, person_ids=[person.id])
    leaves = worklogs.leave_days(
        await worklogs.leaves_overlapping(session, start, today, person_ids=[person.id])
    )
    filed = {log.day for log in window}
    rows: list[list[InlineKeyboardButton]] = []
    today_rule = worklogs.access(profile, today, exists=today in filed, now=now)
    if today_rule in (Access.NEW, Access.EDIT):
        label = _("📝 Write today's log") if today_rule == Access.NEW else _("✏️ Edit today's log")
        rows.append([button(label, LogDayButton(today))])
    for day in profile.calendar.working_days(start, today):
        if day in filed or day in leaves.get(person.id, set()):
            continue
        if worklogs.access(profile, day, exists=False, now=now) == Access.LATE:
            label = _("⏰ File {day} late").format(day=day.strftime("%m-%d"))
            rows.append([button(label, LogDayButton(day))])
    if recent:
        parts = [_("<b>Your recent work logs</b>")]
        parts += [render_log(log, services, _) for log in recent]
        text = "\n\n".join(parts)
    else:
        text = _("You have not filed any work log yet. Send /log to write today's.")
    return text, keyboard(rows) if rows else None


# --- reminders and the evening summary ------------------------------------------------------------


async def queue_reminder(
    session: AsyncSession, services: Services, person: Person, day: date, *, second: bool
) -> bool:
    """Queue a private reminder with a button opening the day's form (once per day and kind)."""
    if second:
        text = N_(
            "📝 Second reminder: your work log for {day} is still missing. Please fill "
            "it in before {cutoff}."
        )
    else:
        text = N_(
            "📝 Reminder: you have not filed your work log for {day} yet. Please fill "
            "it in before {cutoff}."
        )
    cutoff = cutoff_text(services)

    def reminder(t_: Translate) -> str:
        return t_(text).format(day=day.isoformat(), cutoff=cutoff)

    def write_button(t_: Translate) -> InlineKeyboardMarkup:
        return keyboard([[button(t_("📝 Write the log"), LogDayButton(day))]])

    key = f"worklog:{'reminder2' if second else 'reminder'}:{day.isoformat()}:{person.id}"
    return await tell(session, services, person, key, reminder, write_button)


def summary_text(status: worklogs.DayStatus, late_today: list[str], language: str) -> str:
    """The evening summary of a day (HTML) in one language."""
    t_ = translator(language)
    on_time = [person for person, log in status.filed if not log.late]
    late = [person for person, log in status.filed if log.late]

    def names(persons: list[Person]) -> str:
        return "、".join(esc(p.name) for p in persons) if persons else t_("none")

    lines = [
        t_("📒 <b>Work logs of {day}</b>").format(day=status.day.isoformat()),
        t_("Filed on time ({count}): {names}").format(count=len(on_time), names=names(on_time)),
    ]
    if late:
        lines.append(t_("Filed late ({count}): {names}").format(count=len(late), names=names(late)))
    lines.append(
        t_("Missing ({count}): {names}").format(
            count=len(status.missing), names=names(status.missing)
        )
    )
    lines.append(
        t_("On leave ({count}): {names}").format(
            count=len(status.on_leave), names=names(status.on_leave)
        )
    )
    if late_today:
        lines.append(
            t_("Late filings (补交) received today: {names}").format(names="、".join(late_today))
        )
    lines.append(t_("Details: /logs {day}").format(day=status.day.isoformat()))
    return "\n".join(lines)


async def queue_summary(session: AsyncSession, services: Services, day: date) -> int:
    """Queue the day's summary for the leaders' group if one is bound, else each director.

    Returns how many messages were queued now (none when queued before).
    """
    profile = services.profile
    default_language = services.settings.language.value
    status = await worklogs.day_status(session, day, profile)
    start, end = worklogs.day_bounds(day, profile.tz)
    staff = {p.id: p for p in await worklogs.active_staff(session)}
    late_today = [
        f"{esc(staff[log.person_id].name)} ({log.day.strftime('%m-%d')})"
        for log in await worklogs.logs_filed_between(session, start, end)
        if log.late and log.day != day and log.person_id in staff
    ]
    leaders = await groups.group_for(session, GroupPurpose.LEADERS)
    if leaders is not None:
        targets = [(leaders.chat_id, default_language)]
    else:
        targets = [
            (d.telegram_id, language_of(d, default_language))
            for d in await people.active_directors(session)
        ]
    queued = 0
    for chat_id, language in targets:
        queued += await queue_long(
            session,
            services,
            key=f"worklog:summary:{day.isoformat()}:{chat_id}",
            chat_id=chat_id,
            text=summary_text(status, late_today, language),
        )
    return queued


# --- leave ----------------------------------------------------------------------------------------


async def queue_leave_recorded(
    session: AsyncSession, services: Services, person: Person, leave: Leave
) -> None:
    """Tell a staff member the leave recorded for them."""
    recorded = N_(
        "🏖 Leave recorded for you: {start} to {end}. No work log is expected on those days."
    )
    start, end = leave.start.isoformat(), leave.end.isoformat()
    key = f"worklog:leave:{leave.id}"
    await tell(session, services, person, key, lambda t_: t_(recorded).format(start=start, end=end))


# --- post duties (岗位职责, 自订加审核) -------------------------------------------------------


def duties_overview(
    services: Services,
    person: Person,
    approved: PostDuties | None,
    latest: PostDuties | None,
    _: Translate,
) -> tuple[str, InlineKeyboardMarkup]:
    """/duties: one's duties (approved, else the post's), the draft's status, a draft button."""
    duties, is_approved = duties_for(services, person, approved)
    lines = [
        _("<b>Your post duties</b> (approved)")
        if is_approved
        else _("<b>Post duties</b> (from the school's post description)")
    ]
    lines += [f"• {esc(duty)}" for duty in duties] or [_("(none written yet)")]
    if latest is not None and latest.status == DutiesStatus.PENDING:
        lines += [
            "",
            _("Your draft of {date} is waiting for the director's approval.").format(
                date=latest.submitted_at.astimezone(services.settings.tz).strftime("%Y-%m-%d")
            ),
        ]
    elif latest is not None and latest.status == DutiesStatus.RETURNED:
        lines += [
            "",
            _("Your last draft was returned: {comment}").format(comment=esc(latest.comment or "-")),
        ]
    markup = keyboard([[button(_("✏️ Draft my duties"), DraftDutiesButton())]])
    return "\n".join(lines), markup


async def queue_duties_request(
    session: AsyncSession, services: Services, person: Person, draft: PostDuties
) -> None:
    """Ask every active director to approve or return a draft."""
    lines = post_duties.duties_lines(draft.text)
    draft_id = draft.id
    assert draft_id is not None

    def request(t_: Translate) -> str:
        head = t_("📋 {name} submitted post duties for approval:").format(name=esc(person.name))
        return "\n".join([head, *(f"• {esc(line)}" for line in lines)])

    def decide(t_: Translate) -> InlineKeyboardMarkup:
        approve = button(t_("Approve"), DutiesButton(DutiesDecision.APPROVE, draft_id))
        give_back = button(
            t_("Return with a comment"), DutiesButton(DutiesDecision.RETURN, draft_id)
        )
        return keyboard([[approve, give_back]])

    for director in await people.active_directors(session):
        key = f"worklog:duties:{draft_id}:{director.id}"
        await tell(session, services, director, key, request, decide)


async def queue_duties_decision(
    session: AsyncSession,
    services: Services,
    staff: Person,
    draft: PostDuties,
    *,
    approve: bool,
    comment: str | None,
) -> None:
    """Tell the staff member the director's decision on their draft."""
    if approve:
        decided = N_("✅ Your post duties were approved; the log form shows them from now on.")
    else:
        decided = N_(
            "↩ Your post duties were returned by the director: {comment}\nSend /duties "
            "to write a new draft."
        )
    said = esc(comment or "")
    key = f"worklog:duties:{draft.id}:decided"
    await tell(session, services, staff, key, lambda t_: t_(decided).format(comment=said))


def duties_outcome(draft: PostDuties, _: Translate) -> str:
    """'approved', 'returned', … in the reader's language."""
    try:
        return _(DUTIES_OUTCOMES[DutiesStatus(draft.status)])
    except (KeyError, ValueError):
        return draft.status
