"""Inspections (检查): the walk (正常 / 异常 item by item), /inspections, details and trends.

The walk is a persistent ConversationHandler ("inspection_walk"), but its progress lives in the
database as marks: every button carries the round and the item, and a walk resumed after a
restart simply continues with the first unmarked item. Only an 异常 in the making (its note,
photo and place) is form data in user_data; nothing of it is saved until the place is given.

Notifications to others (the staff group's 通报, inspectors' openings and reminders, the
director's missed-round report) are queued here for the scheduler and the walk alike.
"""

from __future__ import annotations

import functools
import logging
import operator
import warnings
from collections.abc import Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers import tickets
from handlers.common import private_chat, refuse_if_too_long, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import Form
from handlers.menu import COMMANDS, menu_filter
from notices import outbox
from notices.render import button, esc, keyboard, language_of, split_text
from notices.services import Services
from school.i18n import N_, translator
from school.profile import InspectionItem
from storage import groups, people
from storage import inspections as store
from storage.models import GroupPurpose, InspectionRound, Person, Role, Ticket
from storage.stats import Month

log = logging.getLogger(__name__)

PREFIX = "ins"
WALK, NOTE, PHOTO, PLACE = range(4)
FORM_KEY = "inspection"
RECENT_ROUNDS = 8
TREND_MONTHS = 6
CREW = {Role.STAFF, Role.DIRECTOR}
EVERYONE_REGISTERED = set(Role)  # a plan may name a teacher-role person (分管副校长) as inspector

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

Translate = Callable[[str], str]


# --- rendering -------------------------------------------------------------------------------


def _local(services: Services, moment: datetime) -> datetime:
    return moment.astimezone(services.profile.tz)


def _day(services: Services, moment: datetime, t_: Translate) -> str:
    local = _local(services, moment)
    return f"{local:%Y-%m-%d} {t_(WEEKDAY_LABELS[local.weekday()])}"


def _time(services: Services, moment: datetime) -> str:
    return f"{_local(services, moment):%H:%M}"


def _when(services: Services, moment: datetime) -> str:
    return f"{_local(services, moment):%m-%d %H:%M}"


def _names(persons: list[Person]) -> str:
    return "、".join(esc(p.name) for p in persons) or "—"


def _item_line(item: InspectionItem) -> str:
    return f"{item.number}. {esc(item.text)}"


def _problem_line(problem: store.Problem, t_: Translate) -> str:
    item = problem.item
    mark = problem.mark
    text = f"{item.number}. {esc(item.text)}" if item is not None else esc(mark.item_key)
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


def render_summary(services: Services, s: store.RoundSummary, t_: Translate) -> str:
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
        lines += [f"• {_problem_line(p, t_)}" for p in s.problems]
    if s.unchecked:
        lines.append(t_("<b>Not checked</b>"))
        lines += [f"• {_item_line(item)}" for item in s.unchecked]
    if r.completed_at is not None:
        lines.append(
            t_("Completed at {time}.").format(time=_when(services, r.completed_at))
            if r.completed_at <= r.deadline_at
            else t_("Completed late at {time} (deadline {deadline}).").format(
                time=_when(services, r.completed_at), deadline=_when(services, r.deadline_at)
            )
        )
    else:
        lines.append(
            t_("Deadline {deadline} passed before the round was finished.").format(
                deadline=_when(services, r.deadline_at)
            )
        )
    return "\n".join(lines)


def render_detail(services: Services, s: store.RoundSummary, t_: Translate) -> str:
    """A round item by item (HTML)."""
    r = s.round
    lines = [
        t_("🔍 <b>{plan}</b> ({day}) · {status}").format(
            plan=esc(s.plan_name),
            day=_day(services, r.occurrence, t_),
            status=t_(STATUS_LABELS.get(r.status, r.status)),
        ),
        t_("Inspectors: {names}").format(names=_names(s.inspectors)),
        t_("Deadline: {deadline}").format(deadline=_when(services, r.deadline_at)),
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
            lines.append(f"⬜ {_item_line(item)} — {not_checked}")
            continue
        who = s.markers.get(mark.marked_by_id)
        by = f" ({esc(who.name)})" if who is not None else ""
        if mark.ok:
            normal = t_("normal")
            lines.append(f"✅ {_item_line(item)} — {normal}{by}")
        else:
            problem = s.problem_for(item.key)
            detail = _problem_line(problem, t_) if problem else _item_line(item)
            lines.append(f"❌ {detail}{by}")
    return "\n".join(lines)


def _walk_text(
    services: Services,
    round_: InspectionRound,
    walk: store.Progress,
    item: InspectionItem,
    previous: store.Problem | None,
    t_: Translate,
    done_note: str | None = None,
) -> str:
    lines = []
    if done_note:
        lines += [done_note, ""]
    lines += [
        t_("🔍 <b>{plan}</b> · item {index}/{total} ({done} done)").format(
            plan=esc(store.plan_name(services.profile, round_)),
            index=walk.items.index(item) + 1,
            total=walk.total,
            done=walk.done,
        ),
        f"<b>{esc(item.area)}</b>",
        _item_line(item),
    ]
    plan = store.plan_of(services.profile, round_)
    if plan is not None:
        places = "、".join(esc(b.name) for b in services.profile.plan_places(plan))
        lines.append(t_("Where: {places}").format(places=places))
    if previous is not None:
        lines.append(t_("⚠️ Last round: {problem}").format(problem=_problem_line(previous, t_)))
    return "\n".join(lines)


def _walk_keyboard(
    round_id: int, walk: store.Progress, item: InspectionItem, t_: Translate
) -> InlineKeyboardMarkup:
    rows = [
        [
            button(t_("✅ Normal"), f"{PREFIX}:ok:{round_id}:{item.key}"),
            button(t_("❌ Problem"), f"{PREFIX}:bad:{round_id}:{item.key}"),
        ]
    ]
    if len(walk.unmarked_in_area(item.area)) > 1:
        rows.append(
            [button(t_("✅ All normal in this area"), f"{PREFIX}:area:{round_id}:{item.key}")]
        )
    rows.append([button(t_("⏸ Pause"), f"{PREFIX}:pause:{round_id}")])
    return keyboard(rows)


def _start_keyboard(round_id: int, t_: Translate, label: str | None = None) -> InlineKeyboardMarkup:
    return keyboard([[button(label or t_("Start inspection"), f"{PREFIX}:start:{round_id}")]])


# --- notifications (used by the scheduler too) -----------------------------------------------


def _group_translator(services: Services) -> Translate:
    return translator(services.settings.language.value)


def _person_translator(services: Services, person: Person) -> Translate:
    return translator(language_of(person, services.settings.language.value))


async def queue_opening(
    session: AsyncSession, services: Services, opened: store.OpenedRound
) -> None:
    """A round opened: tell the staff group and each inspector (with 开始检查)."""
    round_ = opened.round
    assert round_.id is not None
    name = store.plan_name(services.profile, round_)
    total = len(store.items_of(services.profile, round_))
    staff = await groups.group_for(session, GroupPurpose.STAFF)
    if staff is not None:
        t_ = _group_translator(services)
        await outbox.notify(
            session,
            services,
            key=f"inspection:{round_.id}:open:group",
            chat_id=staff.chat_id,
            text=t_(
                "🔍 <b>{plan}</b> has started: {total} items, due by {deadline}.\n"
                "Inspectors: {names}"
            ).format(
                plan=esc(name),
                total=total,
                deadline=_when(services, round_.deadline_at),
                names=_names(opened.inspectors),
            ),
        )
    for person in opened.inspectors:
        t_ = _person_translator(services, person)
        await outbox.notify(
            session,
            services,
            key=f"inspection:{round_.id}:open:{person.id}",
            chat_id=person.telegram_id,
            text=t_(
                "🔍 <b>{plan}</b> is open: {total} items, due by {deadline}. "
                "You are one of the inspectors."
            ).format(plan=esc(name), total=total, deadline=_when(services, round_.deadline_at)),
            markup=_start_keyboard(round_.id, t_),
        )


async def queue_summary(session: AsyncSession, services: Services, round_: InspectionRound) -> bool:
    """The 通报, once per round: to the staff group (the directors when none is bound)."""
    assert round_.id is not None
    if not await store.claim(session, round_.id, store.ANNOUNCED, services.now()):
        return False
    s = await store.summary(session, services.profile, round_)
    staff = await groups.group_for(session, GroupPurpose.STAFF)
    if staff is not None:
        text = render_summary(services, s, _group_translator(services))
        for n, chunk in enumerate(split_text(text)):
            await outbox.notify(
                session,
                services,
                key=f"inspection:{round_.id}:summary:{n}",
                chat_id=staff.chat_id,
                text=chunk,
            )
        return True
    for director in await people.active_directors(session):
        text = render_summary(services, s, _person_translator(services, director))
        for n, chunk in enumerate(split_text(text)):
            await outbox.notify(
                session,
                services,
                key=f"inspection:{round_.id}:summary:{director.id}:{n}",
                chat_id=director.telegram_id,
                text=chunk,
            )
    return True


async def queue_late_completion(
    session: AsyncSession, services: Services, round_: InspectionRound
) -> None:
    """A round finished after its 通报 went out: a short follow-up to the staff group."""
    assert round_.id is not None
    s = await store.summary(session, services.profile, round_)
    staff = await groups.group_for(session, GroupPurpose.STAFF)
    if staff is None:
        return
    t_ = _group_translator(services)
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
        text += "\n" + "\n".join(f"• {_problem_line(p, t_)}" for p in s.problems)
    await outbox.notify(
        session,
        services,
        key=f"inspection:{round_.id}:late",
        chat_id=staff.chat_id,
        text=split_text(text)[0],
    )


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
    count = 0
    for person in await store.inspectors_of(session, round_.id):
        if person.id not in unfinished or not person.active:
            continue
        t_ = _person_translator(services, person)
        queued = await outbox.notify(
            session,
            services,
            key=f"inspection:{round_.id}:remind:{person.id}",
            chat_id=person.telegram_id,
            text=t_(
                "⏰ <b>{plan}</b> is due at {deadline}: {done}/{total} items checked so far."
            ).format(
                plan=esc(name),
                deadline=_time(services, round_.deadline_at),
                done=walk.done,
                total=walk.total,
            ),
            markup=_start_keyboard(round_.id, t_, t_("Continue inspection")),
        )
        count += int(queued)
    return count


async def queue_missed_report(
    session: AsyncSession, services: Services, round_: InspectionRound
) -> None:
    """A round not done by its deadline: report it to the director(s), once."""
    assert round_.id is not None
    if not await store.claim(session, round_.id, store.MISSED_REPORTED, services.now()):
        return
    s = await store.summary(session, services.profile, round_)
    for director in await people.active_directors(session):
        t_ = _person_translator(services, director)
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
            *(f"• {_item_line(item)}" for item in s.unchecked),
        ]
        await outbox.notify(
            session,
            services,
            key=f"inspection:{round_.id}:missed:{director.id}",
            chat_id=director.telegram_id,
            text=split_text("\n".join(lines))[0],
            markup=keyboard([[button(t_("Details"), f"{PREFIX}:view:{round_.id}")]]),
        )


# --- the walk --------------------------------------------------------------------------------


def _form(context: HouqinContext) -> dict[str, object]:
    assert context.user_data is not None
    form = context.user_data.get(FORM_KEY)
    return form if isinstance(form, dict) else {}


def _clear_form(context: HouqinContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(FORM_KEY, None)


async def _load_for_marking(
    update: Update, context: HouqinContext, round_id: int
) -> tuple[Person, InspectionRound] | None:
    """The person and round when they may mark it; otherwise answer why and return None."""
    person = await require_role(update, context, EVERYONE_REGISTERED)
    if person is None or person.id is None:
        return None
    _ = context._
    async with context.services.database.transaction() as session:
        round_ = await store.get_round(session, round_id)
        allowed = round_ is not None and await store.is_inspector(session, round_id, person.id)
    if round_ is None:
        await reply(update, context, _("This inspection round no longer exists."))
        return None
    if not allowed:
        await reply(update, context, _("You are not an inspector of this round."))
        return None
    if round_.status == store.COMPLETED:
        await reply(update, context, _("This round is already completed."))
        return None
    return person, round_


async def _send_or_edit(
    update: Update,
    context: HouqinContext,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    edit: bool,
) -> None:
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        except BadRequest as exc:  # a double tap: the message already shows this
            if "not modified" not in str(exc).lower():
                raise
        return
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def _show_next(
    update: Update,
    context: HouqinContext,
    round_id: int,
    *,
    edit: bool,
    done_note: str | None = None,
) -> int:
    """Show the first unmarked item of the round, or the end of the walk."""
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        round_ = await store.get_round(session, round_id)
        assert round_ is not None
        walk = await store.progress(session, services.profile, round_)
        item = walk.next_item
        previous = None
        if item is not None:
            earlier = await store.previous_problems(session, services.profile, round_)
            previous = next((p for p in earlier if p.mark.item_key == item.key), None)
    if item is None:
        ok = sum(1 for m in walk.marks.values() if m.ok)
        text = _("✅ <b>{plan}</b>: all {total} items checked, {ok} normal, {bad} with problems. "
                 "The result has been announced. Thank you!").format(
            plan=esc(store.plan_name(services.profile, round_)),
            total=walk.total,
            ok=ok,
            bad=walk.done - ok,
        )  # fmt: skip
        if done_note:
            text = f"{done_note}\n\n{text}"
        await _send_or_edit(update, context, text, None, edit=edit)
        return ConversationHandler.END
    text = _walk_text(services, round_, walk, item, previous, _, done_note)
    await _send_or_edit(update, context, text, _walk_keyboard(round_id, walk, item, _), edit=edit)
    return WALK


async def _after_commit(context: HouqinContext, ticket: Ticket | None = None) -> None:
    """Deliver queued notifications, and post a new ticket's card in the repair group."""
    services = context.services
    if ticket is not None:
        await tickets.publish_ticket(context.bot, services, ticket)
    outbox.deliver_soon(context.bot, services)


async def _finish_marking(
    session: AsyncSession, services: Services, round_: InspectionRound, completed_now: bool
) -> None:
    """After a mark: the round's 通报 when it just completed (or a late follow-up)."""
    if not completed_now:
        return
    if round_.announced_at is None:
        await queue_summary(session, services, round_)
    else:
        await queue_late_completion(session, services, round_)


async def start_walk(update: Update, context: HouqinContext) -> int | None:
    """开始检查 / 继续检查: show the previous round's open problems, then the next item."""
    query = update.callback_query
    assert query is not None and query.data is not None
    round_id = int(query.data.split(":")[2])
    loaded = await _load_for_marking(update, context, round_id)
    if loaded is None:
        return ConversationHandler.END
    person, round_ = loaded
    assert person.id is not None
    _clear_form(context)
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        assignment = next(
            a for a in await store.assignments_of(session, round_id) if a.person_id == person.id
        )
        earlier = (
            await store.previous_problems(session, services.profile, round_)
            if assignment.started_at is None
            else []
        )
    await query.answer()
    await query.edit_message_reply_markup(None)
    if earlier:
        lines = [_("🔁 <b>Re-check</b>: problems found in the last round")]
        lines += [f"• {_problem_line(p, _)}" for p in earlier]
        chat = update.effective_chat
        assert chat is not None
        await context.bot.send_message(chat.id, "\n".join(lines), parse_mode=ParseMode.HTML)
    return await _show_next(update, context, round_id, edit=False)


def _parse_item(data: str) -> tuple[str, int, str]:
    _prefix, action, raw_id, item_key = data.split(":", 3)
    return action, int(raw_id), item_key


async def mark_ok(update: Update, context: HouqinContext) -> int | None:
    """正常 on an item (or 本区域全部正常 on its area)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    action, round_id, item_key = _parse_item(query.data)
    loaded = await _load_for_marking(update, context, round_id)
    if loaded is None:
        return ConversationHandler.END
    person, round_ = loaded
    _clear_form(context)
    _ = context._
    services = context.services
    item = store.item_or_none(services.profile, item_key)
    if item is None:
        await query.answer(_("This item is no longer on the checklist."), show_alert=True)
        return await _show_next(update, context, round_id, edit=True)
    async with services.database.transaction() as session:
        if action == "area":
            count, completed = await store.mark_area_ok(
                session,
                profile=services.profile,
                round_id=round_id,
                area=item.area,
                person=person,
                now=services.now(),
            )
            round_ = await store.get_round(session, round_id) or round_
            note = _("✅ {area}: {count} items marked normal.").format(
                area=esc(item.area), count=count
            )
            created = count > 0
        else:
            result = await store.record_mark(
                session,
                profile=services.profile,
                round_id=round_id,
                item_key=item_key,
                person=person,
                ok=True,
                now=services.now(),
            )
            round_ = result.round
            completed, created = result.completed_now, result.created
            note = _("✅ {item}: normal").format(item=_item_line(item))
            if not created:
                note = await _already_marked(session, context, result.mark.marked_by_id, item)
        await _finish_marking(session, services, round_, completed)
    await query.answer(None if created else _("Somebody marked it already."))
    await _after_commit(context)
    return await _show_next(update, context, round_id, edit=True, done_note=note)


async def _already_marked(
    session: AsyncSession, context: HouqinContext, person_id: int, item: InspectionItem
) -> str:
    other = await people.get_person(session, person_id)
    return context._("ℹ️ {item}: already marked by {name}").format(
        item=_item_line(item), name=esc(other.name if other else "?")
    )


async def mark_bad(update: Update, context: HouqinContext) -> int | None:
    """异常 on an item: ask for a note (then a photo and the place)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _action, round_id, item_key = _parse_item(query.data)
    loaded = await _load_for_marking(update, context, round_id)
    if loaded is None:
        return ConversationHandler.END
    _person, round_ = loaded
    _ = context._
    services = context.services
    item = store.item_or_none(services.profile, item_key)
    async with services.database.transaction() as session:
        walk = await store.progress(session, services.profile, round_)
    if item is None or item.key in walk.marks:
        await query.answer(_("This item is already marked."), show_alert=True)
        return await _show_next(update, context, round_id, edit=True)
    assert context.user_data is not None
    context.user_data[FORM_KEY] = {"round": round_id, "item": item_key}
    await query.answer()
    await query.edit_message_text(
        _("❌ {item}\n\nWhat is wrong? Describe the problem in a few words (/cancel to go back).")
        .format(item=_item_line(item)),
        parse_mode=ParseMode.HTML,
    )  # fmt: skip
    return NOTE


async def got_note(update: Update, context: HouqinContext) -> int:
    """The problem's description; then ask for a photo."""
    message = update.effective_message
    assert message is not None
    _ = context._
    form = _form(context)
    if not form:
        await reply(update, context, _("This form has expired. Send /inspections to continue."))
        return ConversationHandler.END
    text = (message.text or message.caption or "").strip()
    if not text:
        await reply(update, context, _("Please describe the problem in words."))
        return NOTE
    if await refuse_if_too_long(update, context, text, store.NOTE_LIMIT):
        return NOTE
    form["note"] = text
    if message.photo:
        form["photo"] = message.photo[-1].file_id
        return await _ask_place(update, context, form)
    await message.reply_text(
        _("Send a photo of the problem, or skip."),
        reply_markup=keyboard([[button(_("Skip the photo"), f"{PREFIX}:skip:{form['round']}")]]),
    )
    return PHOTO


async def got_photo(update: Update, context: HouqinContext) -> int:
    """The problem's photo; then ask for the place."""
    message = update.effective_message
    assert message is not None
    form = _form(context)
    if not form or "note" not in form:
        await reply(
            update, context, context._("This form has expired. Send /inspections to continue.")
        )
        return ConversationHandler.END
    if not message.photo:
        await reply(update, context, context._("Please send a photo, or press Skip the photo."))
        return PHOTO
    form["photo"] = message.photo[-1].file_id
    return await _ask_place(update, context, form)


async def skip_photo(update: Update, context: HouqinContext) -> int:
    """跳过照片."""
    query = update.callback_query
    assert query is not None
    form = _form(context)
    if not form or "note" not in form:
        await query.answer(
            context._("This form has expired. Send /inspections to continue."), show_alert=True
        )
        return ConversationHandler.END
    await query.answer()
    await query.edit_message_reply_markup(None)
    return await _ask_place(update, context, form)


async def _ask_place(update: Update, context: HouqinContext, form: dict[str, object]) -> int:
    _ = context._
    services = context.services
    round_id = int(str(form["round"]))
    async with services.database.transaction() as session:
        round_ = await store.get_round(session, round_id)
    plan = store.plan_of(services.profile, round_) if round_ is not None else None
    buildings = services.profile.plan_places(plan) if plan is not None else []
    buttons = [button(b.name, f"{PREFIX}:pl:{round_id}:{b.key}") for b in buildings]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([button(_("No exact place"), f"{PREFIX}:pl:{round_id}:-")])
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(
        chat.id,
        _("Where exactly? Type the place (e.g. 教学楼2楼男厕) or pick the building."),
        reply_markup=keyboard(rows),
    )
    return PLACE


async def got_place_text(update: Update, context: HouqinContext) -> int:
    """The exact place as text: save the 异常."""
    message = update.effective_message
    assert message is not None
    _ = context._
    text = (message.text or "").strip()
    if not text:
        await reply(update, context, _("Please type the place, or pick a building."))
        return PLACE
    if await refuse_if_too_long(update, context, text, store.PLACE_LIMIT):
        return PLACE
    return await _save_problem(update, context, place=text, building_key=None)


async def got_place_button(update: Update, context: HouqinContext) -> int:
    """A building button (or 不指定): save the 异常."""
    query = update.callback_query
    assert query is not None and query.data is not None
    key = query.data.split(":")[3]
    form = _form(context)
    if not form or "note" not in form:
        await query.answer(
            context._("This form has expired. Send /inspections to continue."), show_alert=True
        )
        return ConversationHandler.END
    loaded = await _load_for_marking(update, context, int(str(form["round"])))
    if loaded is None:
        _clear_form(context)
        return ConversationHandler.END
    profile = context.services.profile
    building = None
    if key != "-":
        try:
            building = profile.building(key)
        except KeyError:
            building = None
    await query.answer()
    await query.edit_message_reply_markup(None)
    place = profile.place_label(building) if building is not None else None
    return await _save_problem(
        update,
        context,
        place=place,
        building_key=building.key if building else None,
        loaded=loaded,
    )


async def _save_problem(
    update: Update,
    context: HouqinContext,
    *,
    place: str | None,
    building_key: str | None,
    loaded: tuple[Person, InspectionRound] | None = None,
) -> int:
    _ = context._
    form = _form(context)
    if not form or "note" not in form:
        await reply(update, context, _("This form has expired. Send /inspections to continue."))
        return ConversationHandler.END
    round_id = int(str(form["round"]))
    item_key = str(form["item"])
    if loaded is None:
        loaded = await _load_for_marking(update, context, round_id)
    if loaded is None:
        _clear_form(context)
        return ConversationHandler.END
    person, _round = loaded
    services = context.services
    item = services.profile.inspection_item(item_key)
    photo = form.get("photo")
    async with services.database.transaction() as session:
        result = await store.record_mark(
            session,
            profile=services.profile,
            round_id=round_id,
            item_key=item_key,
            person=person,
            ok=False,
            now=services.now(),
            note=str(form["note"]),
            place_detail=place,
            photo_file_id=str(photo) if photo else None,
            building_key=building_key,
        )
        if result.created and result.ticket is not None:
            # The card is queued with the mark and its ticket: a crash after the commit
            # still posts it, once, at the next start.
            await tickets.queue_publication(session, services, result.ticket)
        if result.created:
            note = _("❌ {item}: problem recorded, repair ticket {number} (to be fixed).").format(
                item=_item_line(item),
                number=esc(result.ticket.number) if result.ticket else "—",
            )
        else:
            note = await _already_marked(session, context, result.mark.marked_by_id, item)
        await _finish_marking(session, services, result.round, result.completed_now)
    _clear_form(context)
    await _after_commit(context, result.ticket)
    return await _show_next(update, context, round_id, edit=False, done_note=note)


async def pause(update: Update, context: HouqinContext) -> int:
    """暂停: progress is already saved; say how to resume."""
    query = update.callback_query
    assert query is not None and query.data is not None
    round_id = int(query.data.split(":")[2])
    _ = context._
    _clear_form(context)
    async with context.services.database.transaction() as session:
        round_ = await store.get_round(session, round_id)
        walk = await store.progress(session, context.services.profile, round_) if round_ else None
    await query.answer()
    if walk is None:
        await query.edit_message_text(_("This inspection round no longer exists."))
        return ConversationHandler.END
    await query.edit_message_text(
        _("⏸ Paused at {done}/{total}. Your progress is saved; continue any time.").format(
            done=walk.done, total=walk.total
        ),
        reply_markup=_start_keyboard(round_id, _, _("Continue inspection")),
    )
    return ConversationHandler.END


async def cancel(update: Update, context: HouqinContext) -> int:
    """/cancel during the walk: drop the 异常 being written; marks made so far stay."""
    _clear_form(context)
    await reply(
        update,
        context,
        context._(
            "Cancelled; the problem was not saved. Marks made so far are kept: "
            "/inspections continues the round."
        ),
    )
    return ConversationHandler.END


async def wrong_input(update: Update, context: HouqinContext) -> int | None:
    """Stickers, voice and the like inside the walk's form."""
    await reply(
        update,
        context,
        context._("I can't use that here. Please answer the question above, or /cancel."),
    )
    return None


# --- /inspections, details, trends -----------------------------------------------------------


async def inspections_command(update: Update, context: HouqinContext) -> int:
    """/inspections: my unfinished rounds, recent rounds with results, details and trend."""
    person = await require_role(update, context, CREW)
    if person is None or person.id is None:
        return ConversationHandler.END
    _ = context._
    if not private_chat(update):
        await reply(update, context, _("Use /inspections in a private chat with me."))
        return ConversationHandler.END
    _clear_form(context)
    services = context.services
    async with services.database.transaction() as session:
        mine = await store.rounds_of_person(session, person.id)
        recent = await store.recent_rounds(session, limit=RECENT_ROUNDS)
        summaries = [await store.summary(session, services.profile, r) for r in recent]
    rows: list[list[InlineKeyboardButton]] = []
    for r in mine:
        rows.append(
            [
                button(
                    _("▶ Continue: {plan} {day}").format(
                        plan=store.plan_name(services.profile, r),
                        day=f"{_local(services, r.occurrence):%m-%d}",
                    ),
                    f"{PREFIX}:start:{r.id}",
                )
            ]
        )
    if not summaries:
        lines = [_("No inspection rounds yet.")]
    else:
        lines = [_("<b>Recent inspection rounds</b>")]
        for n, s in enumerate(summaries, start=1):
            lines.append(
                _("{n}. {plan} {day} · {status} · {checked}/{total} checked, "
                  "{ok} normal, {bad} problems").format(
                    n=n,
                    plan=esc(s.plan_name),
                    day=f"{_local(services, s.round.occurrence):%m-%d}",
                    status=_(STATUS_LABELS.get(s.round.status, s.round.status)),
                    checked=s.checked,
                    total=len(s.items),
                    ok=s.ok_count,
                    bad=len(s.problems),
                )
            )  # fmt: skip
        detail_buttons = [
            button(_("Details {n}").format(n=n), f"{PREFIX}:view:{s.round.id}")
            for n, s in enumerate(summaries, start=1)
        ]
        rows += [detail_buttons[i : i + 4] for i in range(0, len(detail_buttons), 4)]
    if Role(person.role) == Role.DIRECTOR:
        rows.append([button(_("📈 Recurring problems"), f"{PREFIX}:trend:{TREND_MONTHS}")])
    await reply(
        update,
        context,
        "\n".join(lines),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(rows) if rows else None,
    )
    return ConversationHandler.END


async def view_round(update: Update, context: HouqinContext) -> None:
    """A round's detail: each item with its result, place, note and ticket."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, CREW) is None:
        return
    _ = context._
    services = context.services
    round_id = int(query.data.split(":")[2])
    async with services.database.transaction() as session:
        round_ = await store.get_round(session, round_id)
        s = await store.summary(session, services.profile, round_) if round_ else None
    if s is None:
        await query.answer(_("This inspection round no longer exists."), show_alert=True)
        return
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    for chunk in split_text(render_detail(services, s, _)):
        await context.bot.send_message(chat.id, chunk, parse_mode=ParseMode.HTML)


async def trend(update: Update, context: HouqinContext) -> None:
    """How often each item failed per month (director): what recurs."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    services = context.services
    count = max(1, min(12, int(query.data.split(":")[2])))
    month = Month.of(services.local_now().date())
    months = [month]
    for _n in range(count - 1):
        months.insert(0, months[0].previous())
    async with services.database.transaction() as session:
        found = await store.item_trend(session, services.profile, months)
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
        _("📈 <b>Problems per item</b>, {first} to {last} (problems/checks per month)").format(
            first=months[0], last=months[-1]
        )
    ]
    if not failing:
        lines.append(_("No problems found in these months."))
    for total, key, per_month in failing:
        item = store.item_or_none(services.profile, key)
        title = _item_line(item) if item is not None else esc(key)
        cells = " · ".join(
            f"{m}: {per_month[m][0]}/{per_month[m][1]}" for m in months if m in per_month
        )
        lines.append(_("{item}: {total} in all").format(item=title, total=total))
        lines.append(f"   {cells}")
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    for chunk in split_text("\n".join(lines)):
        await context.bot.send_message(chat.id, chunk, parse_mode=ParseMode.HTML)


# --- registration ----------------------------------------------------------------------------


def _menu_labels() -> filters.BaseFilter:
    """Any reply-keyboard menu button: never taken as a note or a place."""
    labelled = [menu_filter(c.name) for c in COMMANDS if c.menu_label]
    return functools.reduce(operator.or_, labelled)


def _callback(action: str) -> str:
    return rf"^{PREFIX}:{action}$"


def build_walk() -> ConversationHandler[HouqinContext]:
    """The persistent walk: item buttons, and the 异常 form (note → photo → place)."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND & ~_menu_labels()
    other = private & ~filters.COMMAND & ~filters.StatusUpdate.ALL
    item_buttons: list[BaseHandler[Update, HouqinContext, object]] = [
        CallbackQueryHandler(start_walk, pattern=_callback(r"start:\d+")),
        CallbackQueryHandler(mark_ok, pattern=_callback(r"(ok|area):\d+:\w+")),
        CallbackQueryHandler(mark_bad, pattern=_callback(r"bad:\d+:\w+")),
        CallbackQueryHandler(pause, pattern=_callback(r"pause:\d+")),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)  # per_message=False is intended
        return ConversationHandler(
            entry_points=item_buttons,
            states={
                WALK: [],
                NOTE: [
                    MessageHandler(text | (private & filters.PHOTO & filters.CAPTION), got_note),
                    MessageHandler(other, wrong_input),
                ],
                PHOTO: [
                    MessageHandler(private & filters.PHOTO, got_photo),
                    CallbackQueryHandler(skip_photo, pattern=_callback(r"skip:\d+")),
                    MessageHandler(text | other, got_photo),
                ],
                PLACE: [
                    MessageHandler(text, got_place_text),
                    CallbackQueryHandler(got_place_button, pattern=_callback(r"pl:\d+:[\w-]+")),
                    MessageHandler(other, wrong_input),
                ],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                CommandHandler("inspections", inspections_command),
                MessageHandler(menu_filter("inspections"), inspections_command),
            ],
            name="inspection_walk",
            persistent=True,
            allow_reentry=True,
        )


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    application.add_handler(build_walk())
    application.add_handler(CommandHandler("inspections", inspections_command))
    application.add_handler(MessageHandler(menu_filter("inspections"), inspections_command))
    application.add_handler(CallbackQueryHandler(view_round, pattern=_callback(r"view:\d+")))
    application.add_handler(CallbackQueryHandler(trend, pattern=_callback(r"trend:\d+")))
    # Walk buttons pressed after the form ended are entry points of the walk (above).


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms); none moved there yet."""
    return []
