"""What the inspections feature (检查) tells people: the round opened, the walk's items,
reminders, the 通报, the missed-round report, a round's detail, the list of rounds and the
trend of recurring problems; their keyboards and button data; and who is told.

Used by the handlers (the walk, /inspections) and the jobs (opening, reminders, deadlines)
alike. Texts are HTML; user content goes through `esc`.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from notices.callbacks import CallbackData
from notices.recipients import group_translator, tell, tell_group, translator_for
from notices.render import button, edit_or_ignore, esc, keyboard, queue_long, split_text
from notices.services import Services
from school.i18n import N_
from school.profile import InspectionItem
from storage import groups, people
from storage import inspection_results as results
from storage import inspections as store
from storage import outbox as outbox_store
from storage.models import GroupPurpose, InspectionRound, Person
from storage.stats import Month

Translate = Callable[[str], str]
log = logging.getLogger(__name__)

NO_KEY = "-"  # the key of a walk button that names no item or building

STATUS_LABELS = {
    store.OPEN: N_("in progress"),
    store.COMPLETED: N_("completed"),
    store.CLOSED: N_("past deadline, unfinished"),
}
STATE_LABELS = {
    "open": N_("to be fixed"),
    "fixed": N_("fixed"),
    "dropped": N_("ticket withdrawn"),
}
WEEKDAY_LABELS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


# --- button data -----------------------------------------------------------------------------


class WalkAction(StrEnum):
    """What a button of the walk does."""

    START = "start"  # 开始检查 / 继续检查
    OK = "ok"  # 正常
    AREA = "area"  # 本区域全部正常
    BAD = "bad"  # 异常
    PAUSE = "pause"  # 暂停
    SKIP = "skip"  # 跳过照片
    PLACE = "pl"  # the building of an 异常 (NO_KEY: no exact place)


@dataclass(frozen=True)
class WalkButton(CallbackData, prefix="ins", version=2):
    """A button of the walk: the action, the round, and the item (or building) it is about."""

    action: WalkAction
    round_id: int
    key: str = NO_KEY


@dataclass(frozen=True)
class RoundDetailButton(CallbackData, prefix="insr", version=1):
    """详情: a round item by item."""

    round_id: int


@dataclass(frozen=True)
class TrendButton(CallbackData, prefix="inst", version=1):
    """📈 the recurring problems over the last `months` months."""

    months: int


# --- pieces of text --------------------------------------------------------------------------


def _local(services: Services, moment: datetime) -> datetime:
    return moment.astimezone(services.profile.tz)


def _day(services: Services, moment: datetime, t_: Translate) -> str:
    local = _local(services, moment)
    return f"{local:%Y-%m-%d} {t_(WEEKDAY_LABELS[local.weekday()])}"


def _time(services: Services, moment: datetime) -> str:
    return f"{_local(services, moment):%H:%M}"


def when(services: Services, moment: datetime) -> str:
    """A moment as MM-DD HH:MM in school time."""
    return f"{_local(services, moment):%m-%d %H:%M}"


def short_day(services: Services, moment: datetime) -> str:
    """A round's day as MM-DD in school time."""
    return f"{_local(services, moment):%m-%d}"


def _names(persons: Sequence[Person]) -> str:
    return "、".join(esc(p.name) for p in persons) or "—"


def item_line(item: InspectionItem) -> str:
    """An item as "6. text" (HTML)."""
    return f"{item.number}. {esc(item.text)}"


def problem_line(problem: results.Problem, t_: Translate) -> str:
    """An 异常 with its place, note and ticket state (HTML)."""
    item = problem.item
    mark = problem.mark
    text = item_line(item) if item is not None else esc(mark.item_key)
    parts = [text]
    if mark.place_detail:
        parts.append(esc(mark.place_detail))
    if mark.note:
        parts.append(esc(mark.note))
    line = " — ".join(parts)
    if problem.ticket is not None:
        line += " · " + t_("ticket {number} {state}").format(
            number=esc(problem.ticket.number), state=t_(STATE_LABELS[problem.state])
        )
    return line


# --- the 通报 and a round's detail -----------------------------------------------------------


def render_summary(services: Services, s: results.RoundSummary, t_: Translate) -> str:
    """The 通报 of a round for the staff group (HTML)."""
    r = s.round
    lines = [
        t_("📢 <b>Inspection report: {plan}</b> ({day})").format(
            plan=esc(s.plan_name), day=_day(services, r.occurrence, t_)
        ),
        t_("Inspectors: {names}").format(names=_names(s.inspectors)),
        t_("Checked {checked}/{total} items: {ok} normal, {bad} with problems.").format(
            checked=s.checked, total=len(s.items), ok=s.ok_count, bad=len(s.problems)
        ),
    ]
    if s.problems:
        lines.append(t_("<b>Problems</b>"))
        lines += [f"• {problem_line(p, t_)}" for p in s.problems]
    if s.unchecked:
        lines.append(t_("<b>Not checked</b>"))
        lines += [f"• {item_line(item)}" for item in s.unchecked]
    if r.completed_at is not None:
        lines.append(
            t_("Completed at {time}.").format(time=when(services, r.completed_at))
            if r.completed_at <= r.deadline_at
            else t_("Completed late at {time} (deadline {deadline}).").format(
                time=when(services, r.completed_at), deadline=when(services, r.deadline_at)
            )
        )
    else:
        lines.append(
            t_("Deadline {deadline} passed before the round was finished.").format(
                deadline=when(services, r.deadline_at)
            )
        )
    return "\n".join(lines)


def render_detail(services: Services, s: results.RoundSummary, t_: Translate) -> str:
    """A round item by item (HTML)."""
    r = s.round
    lines = [
        t_("🔍 <b>{plan}</b> ({day}) · {status}").format(
            plan=esc(s.plan_name),
            day=_day(services, r.occurrence, t_),
            status=t_(STATUS_LABELS.get(r.status, r.status)),
        ),
        t_("Inspectors: {names}").format(names=_names(s.inspectors)),
        t_("Deadline: {deadline}").format(deadline=when(services, r.deadline_at)),
        "",
    ]
    area = None
    for item in s.items:
        if item.area != area:
            area = item.area
            lines.append(f"<b>{esc(area)}</b>")
        mark = s.marks.get(item.key)
        if mark is None:
            not_checked = t_("not checked")
            lines.append(f"⬜ {item_line(item)} — {not_checked}")
            continue
        who = s.markers.get(mark.marked_by_id)
        by = f" ({esc(who.name)})" if who is not None else ""
        if mark.ok:
            normal = t_("normal")
            lines.append(f"✅ {item_line(item)} — {normal}{by}")
        else:
            problem = s.problem_for(item.key)
            detail = problem_line(problem, t_) if problem else item_line(item)
            lines.append(f"❌ {detail}{by}")
    return "\n".join(lines)


# --- the walk's start (the rest of the walk: notices.inspection_walk) ----------------------


def start_keyboard(round_id: int, t_: Translate, label: str | None = None) -> InlineKeyboardMarkup:
    """开始检查 (or another label, e.g. 继续检查) for a round."""
    start = WalkButton(WalkAction.START, round_id)
    return keyboard([[button(label or t_("Start inspection"), start)]])


def continue_keyboard(round_id: int, t_: Translate) -> InlineKeyboardMarkup:
    """继续检查 for a round."""
    return start_keyboard(round_id, t_, t_("Continue inspection"))


def start_keys(round_id: int) -> tuple[str, str]:
    """The outbox key prefixes of the round's messages with 开始检查 / 继续检查."""
    return f"inspection:{round_id}:open:", f"inspection:{round_id}:remind:"


async def drop_start_buttons(bot: Bot, services: Services, round_: InspectionRound) -> None:
    """The round completed: its opening notices and reminders say so and lose their 开始检查 /
    继续检查 (those delivered so far; a press on one delivered later is answered with the
    result)."""
    assert round_.id is not None and round_.completed_at is not None
    done = N_("✅ This round was completed at {time}.")
    edits = []
    async with services.database.reading() as session:
        for sent in await outbox_store.sent_with_prefix(session, *start_keys(round_.id)):
            person = await people.get_person_by_telegram_id(session, sent.chat_id)
            if person is None or sent.message_id is None:
                continue  # the group's opening notice (no button)
            t_ = translator_for(person, services)
            note = t_(done).format(time=when(services, round_.completed_at))
            edits.append((sent.chat_id, sent.message_id, f"{sent.text}\n\n{note}", sent.parse_mode))

    async def edit(chat_id: int, message_id: int, text: str, parse_mode: str | None) -> None:
        try:
            await edit_or_ignore(
                bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, parse_mode=parse_mode
                )
            )
        except TelegramError as exc:  # deleted by the person, too old to edit: a press answers
            log.info("kept the start button of round %s in %s: %s", round_.id, chat_id, exc)

    await asyncio.gather(*(edit(*one) for one in edits))


# --- /inspections: rounds, details, trends ---------------------------------------------------


def rounds_list(
    services: Services,
    mine: Sequence[InspectionRound],
    summaries: Sequence[results.RoundSummary],
    t_: Translate,
    *,
    trend_months: int | None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """/inspections: my unfinished rounds (继续), recent rounds with results and 详情, and the
    trend button for the director (`trend_months`)."""
    rows: list[list[InlineKeyboardButton]] = []
    for r in mine:
        assert r.id is not None
        label = t_("▶ Continue: {plan} {day}").format(
            plan=store.plan_name(services.profile, r), day=short_day(services, r.occurrence)
        )
        rows.append([button(label, WalkButton(WalkAction.START, r.id))])
    if not summaries:
        lines = [t_("No inspection rounds yet.")]
    else:
        lines = [t_("<b>Recent inspection rounds</b>")]
        for n, s in enumerate(summaries, start=1):
            lines.append(
                t_("{n}. {plan} {day} · {status} · {checked}/{total} checked, "
                   "{ok} normal, {bad} problems").format(
                    n=n,
                    plan=esc(s.plan_name),
                    day=short_day(services, s.round.occurrence),
                    status=t_(STATUS_LABELS.get(s.round.status, s.round.status)),
                    checked=s.checked,
                    total=len(s.items),
                    ok=s.ok_count,
                    bad=len(s.problems),
                )
            )  # fmt: skip
        details = [
            button(t_("Details {n}").format(n=n), RoundDetailButton(s.round.id or 0))
            for n, s in enumerate(summaries, start=1)
        ]
        rows += [details[i : i + 4] for i in range(0, len(details), 4)]
    if trend_months is not None:
        rows.append([button(t_("📈 Recurring problems"), TrendButton(trend_months))])
    return "\n".join(lines), keyboard(rows) if rows else None


def trend(
    services: Services,
    months: Sequence[Month],
    found: dict[str, dict[Month, tuple[int, int]]],
    t_: Translate,
) -> str:
    """How often each item failed per month, most failing first (HTML)."""
    failing = sorted(
        (
            (sum(f for f, _c in per_month.values()), key, per_month)
            for key, per_month in found.items()
            if any(f for f, _c in per_month.values())
        ),
        key=operator.itemgetter(0),
        reverse=True,
    )
    lines = [
        t_("📈 <b>Problems per item</b>, {first} to {last} (problems/checks per month)").format(
            first=months[0], last=months[-1]
        )
    ]
    if not failing:
        lines.append(t_("No problems found in these months."))
    for total, key, per_month in failing:
        item = store.item_or_none(services.profile, key)
        title = item_line(item) if item is not None else esc(key)
        cells = " · ".join(
            f"{m}: {per_month[m][0]}/{per_month[m][1]}" for m in months if m in per_month
        )
        lines.append(t_("{item}: {total} in all").format(item=title, total=total))
        lines.append(f"   {cells}")
    return "\n".join(lines)


# --- who is told (queued in the caller's transaction) ----------------------------------------


async def queue_opening(
    session: AsyncSession, services: Services, opened: store.OpenedRound
) -> None:
    """A round opened: tell the staff group and each inspector (with 开始检查)."""
    round_ = opened.round
    assert round_.id is not None
    name = store.plan_name(services.profile, round_)
    total = len(store.items_of(services.profile, round_))
    started = N_(
        "🔍 <b>{plan}</b> has started: {total} items, due by {deadline}.\nInspectors: {names}"
    )
    await tell_group(
        session,
        services,
        GroupPurpose.STAFF,
        f"inspection:{round_.id}:open:group",
        lambda t_: t_(started).format(
            plan=esc(name),
            total=total,
            deadline=when(services, round_.deadline_at),
            names=_names(opened.inspectors),
        ),
    )
    deadline = when(services, round_.deadline_at)
    opened_text = N_(
        "🔍 <b>{plan}</b> is open: {total} items, due by {deadline}. You are one of the inspectors."
    )

    def opened_for_inspector(t_: Translate) -> str:
        return t_(opened_text).format(plan=esc(name), total=total, deadline=deadline)

    for person in opened.inspectors:
        key = f"{start_keys(round_.id)[0]}{person.id}"
        buttons = partial(start_keyboard, round_.id)
        await tell(session, services, person, key, opened_for_inspector, buttons)


async def queue_summary(session: AsyncSession, services: Services, round_: InspectionRound) -> bool:
    """The 通报, once per round: to the staff group (the directors when none is bound)."""
    assert round_.id is not None
    if not await store.claim(session, round_.id, store.ANNOUNCED, services.now()):
        return False
    s = await results.summary(session, services.profile, round_)
    staff = await groups.group_for(session, GroupPurpose.STAFF)
    if staff is not None:
        await queue_long(
            session,
            services,
            key=f"inspection:{round_.id}:summary",
            chat_id=staff.chat_id,
            text=render_summary(services, s, group_translator(services)),
        )
        return True
    for director in await people.active_directors(session):
        await queue_long(
            session,
            services,
            key=f"inspection:{round_.id}:summary:{director.id}",
            chat_id=director.telegram_id,
            text=render_summary(services, s, translator_for(director, services)),
        )
    return True


async def queue_late_completion(
    session: AsyncSession, services: Services, round_: InspectionRound
) -> None:
    """A round finished after its 通报 went out: a short follow-up to the staff group."""
    assert round_.id is not None
    s = await results.summary(session, services.profile, round_)
    t_ = group_translator(services)
    text = t_(
        "📢 <b>{plan}</b> ({day}) was finished late: {checked}/{total} items, {bad} with problems."
    ).format(
        plan=esc(s.plan_name),
        day=_day(services, round_.occurrence, t_),
        checked=s.checked,
        total=len(s.items),
        bad=len(s.problems),
    )
    if s.problems:
        text += "\n" + "\n".join(f"• {problem_line(p, t_)}" for p in s.problems)
    key = f"inspection:{round_.id}:late"
    await tell_group(session, services, GroupPurpose.STAFF, key, lambda _: split_text(text)[0])


async def queue_reminders(
    session: AsyncSession, services: Services, round_: InspectionRound
) -> int:
    """Remind the round's unfinished inspectors before the deadline; how many were queued."""
    assert round_.id is not None
    walk = await store.progress(session, services.profile, round_)
    name = store.plan_name(services.profile, round_)
    unfinished = {
        a.person_id for a in await store.assignments_of(session, round_.id) if a.finished_at is None
    }
    deadline = _time(services, round_.deadline_at)
    due = N_("⏰ <b>{plan}</b> is due at {deadline}: {done}/{total} items checked so far.")

    def reminder(t_: Translate) -> str:
        return t_(due).format(plan=esc(name), deadline=deadline, done=walk.done, total=walk.total)

    count = 0
    for person in await store.inspectors_of(session, round_.id):
        if person.id not in unfinished or not person.active:
            continue
        key = f"{start_keys(round_.id)[1]}{person.id}"
        buttons = partial(continue_keyboard, round_.id)
        queued = await tell(session, services, person, key, reminder, buttons)
        count += int(queued)
    return count


async def queue_missed_report(
    session: AsyncSession, services: Services, round_: InspectionRound
) -> None:
    """A round not done by its deadline: report it to the director(s), once."""
    assert round_.id is not None
    if not await store.claim(session, round_.id, store.MISSED_REPORTED, services.now()):
        return
    s = await results.summary(session, services.profile, round_)

    def missed(t_: Translate) -> str:
        lines = [
            t_("⚠️ <b>{plan}</b> ({day}) was not finished by its deadline {deadline}.").format(
                plan=esc(s.plan_name),
                day=_day(services, round_.occurrence, t_),
                deadline=_time(services, round_.deadline_at),
            ),
            t_("Checked {checked}/{total} items.").format(checked=s.checked, total=len(s.items)),
            t_("Inspectors: {names}").format(names=_names(s.inspectors)),
            t_("Checked by: {names}").format(names=_names(list(s.markers.values()))),
            t_("<b>Not checked</b>"),
            *(f"• {item_line(item)}" for item in s.unchecked),
        ]
        return split_text("\n".join(lines))[0]

    round_id = round_.id

    def details(t_: Translate) -> InlineKeyboardMarkup:
        return keyboard([[button(t_("Details"), RoundDetailButton(round_id))]])

    for director in await people.active_directors(session):
        key = f"inspection:{round_.id}:missed:{director.id}"
        await tell(session, services, director, key, missed, details)
