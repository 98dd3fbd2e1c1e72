"""The inspection walk (检查), a form of the form owner (handlers.forms).

Its progress lives in the database as marks: every button carries the round and the item, and
a walk resumed (after a restart, a pause, or another form) continues with the first unmarked
item. The form's step says where the person is: "walk" (the item buttons, which are entry
points, so any walk message's buttons work), or the 异常 sub-steps "note" → "photo" →
"place". The 异常 in the making is the typed draft `ProblemDraft` under user_data
"inspection"; nothing of it is saved until the place is given. When another form starts the
walk is parked: 继续检查 (from /inspections) resumes it, the half-written 异常 included.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence

from pydantic import BaseModel
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import MessageHandler, filters

from actions import inspections as act
from handlers.buttons import on_button
from handlers.common import end_form, reply, require_role, typed_text
from handlers.context import HouqinContext
from handlers.forms import (
    END,
    AnyHandler,
    Form,
    drop_draft,
    load_draft,
    opening,
    save_draft,
)
from handlers.menu import COMMANDS, menu_filter
from notices import inspection_walk as walk_texts
from notices import inspections as notices
from notices import outbox
from notices import tickets as ticket_notices
from notices.inspections import NO_KEY, WalkAction, WalkButton
from notices.render import edit_or_ignore
from school.i18n import N_
from school.profile import InspectionItem
from storage import inspections as store
from storage.models import InspectionRound, Person, Role

FORM = "inspection"
DRAFT = "inspection"  # user_data key of the 异常 in the making (as before the form owner)
WALK, NOTE, PHOTO, PLACE = "walk", "note", "photo", "place"
EVERYONE_REGISTERED = set(Role)  # a plan may name a teacher-role person (分管副校长) as inspector


class ProblemDraft(BaseModel):
    """An 异常 being written: its round and item, then the note and the photo."""

    round: int
    item: str
    note: str | None = None
    photo: str | None = None
    past_photo: bool = False  # the photo was given or skipped: the place is next


# --- checks and answers ----------------------------------------------------------------------


async def _round_to_mark(
    update: Update, context: HouqinContext, round_id: int
) -> tuple[Person, InspectionRound] | None:
    """The person and round when they may mark it; otherwise answer why and return None."""
    person = await require_role(update, context, EVERYONE_REGISTERED)
    if person is None or person.id is None:
        return None
    found = await act.round_to_mark(context.services, round_id, person)
    if isinstance(found, act.Refusal):
        await reply(update, context, await _why_not(update, context, round_id, person, found))
        return None
    return person, found


async def _why_not(
    update: Update, context: HouqinContext, round_id: int, person: Person, why: act.Refusal
) -> str:
    """Why a press may not mark the round: for a button of a round that takes no more marks
    (completed, or past its late marks), the round's result."""
    over = None
    if update.callback_query is not None and why in (act.Refusal.COMPLETED, act.Refusal.TOO_LATE):
        over = await act.round_over(context.services, round_id, person)
    if over is None:
        return walk_texts.refused(why, context._)
    return walk_texts.round_over(
        context.services, over.summary, context._, mine=over.marked_by_me, until=over.until
    )


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
        await edit_or_ignore(query.edit_message_text(text, reply_markup=markup))
        return
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, text, reply_markup=markup)


async def _show_next(
    update: Update,
    context: HouqinContext,
    round_id: int,
    *,
    edit: bool,
    done_note: str | None = None,
) -> str | int:
    """Show the first unmarked item of the round, or the end of the walk."""
    _ = context._
    services = context.services
    at = await act.position(services, round_id)
    if at is None:
        await _send_or_edit(update, context, walk_texts.refused("no_round", _), None, edit=edit)
        return END
    if at.item is None:
        text = walk_texts.walk_finished(services, at.round, at.walk, _, done_note, at.problems)
        await _send_or_edit(update, context, text, None, edit=edit)
        return END
    text, markup = walk_texts.walk_item(
        services, at.round, at.walk, at.item, at.previous, _, done_note, at.problems
    )
    await _send_or_edit(update, context, text, markup, edit=edit)
    return WALK


def _draft(context: HouqinContext) -> ProblemDraft | None:
    return load_draft(context, DRAFT, ProblemDraft)


async def _expired(update: Update, context: HouqinContext) -> int:
    return await end_form(
        update, context, DRAFT, context._("This form has expired. Send /inspections to continue.")
    )


# --- the item buttons (entry points) ---------------------------------------------------------


async def start_walk(update: Update, context: HouqinContext, data: WalkButton) -> str | int | None:
    """开始检查 / 继续检查: the previous round's open problems, then the next item (or the
    异常 that was being written for this round)."""
    query = update.callback_query
    assert query is not None
    person = await require_role(update, context, EVERYONE_REGISTERED)
    if person is None or person.id is None:
        return None
    round_ = await act.round_to_mark(context.services, data.round_id, person)
    if isinstance(round_, act.Refusal):
        why = await _why_not(update, context, data.round_id, person, round_)
        await query.answer(why, show_alert=True)
        over = round_ in (act.Refusal.COMPLETED, act.Refusal.TOO_LATE)
        if over and query.message is not None:
            await edit_or_ignore(query.edit_message_reply_markup(None))  # the stale button goes
        return None
    await opening(context)
    _ = context._
    services = context.services
    draft = _draft(context)
    if draft is not None and draft.round == data.round_id:
        item = act.checklist_item(services, round_, draft.item)
        if item is not None and not await act.is_marked(services, round_.id or 0, item.key):
            await query.answer()
            await edit_or_ignore(query.edit_message_reply_markup(None))
            return await _ask_again(update, context, draft, item, round_)
    drop_draft(context, DRAFT)
    earlier = await act.start(services, data.round_id, person)
    late = services.now() > round_.deadline_at
    await query.answer(walk_texts.late_until(services, round_, _) if late else None)
    await edit_or_ignore(query.edit_message_reply_markup(None))
    if earlier:
        chat = update.effective_chat
        assert chat is not None
        await context.bot.send_message(chat.id, walk_texts.recheck(earlier, _))
    return await _show_next(update, context, data.round_id, edit=False)


async def _ask_again(
    update: Update,
    context: HouqinContext,
    draft: ProblemDraft,
    item: InspectionItem,
    round_: InspectionRound,
) -> str:
    """Resume an 异常 being written where it was: the note, the photo or the place."""
    _ = context._
    chat = update.effective_chat
    assert chat is not None
    if draft.note is None:
        await context.bot.send_message(chat.id, walk_texts.ask_note(item, _))
        return NOTE
    if draft.photo is None and not draft.past_photo:
        text, markup = walk_texts.ask_photo(draft.round, _)
        await context.bot.send_message(chat.id, text, reply_markup=markup)
        return PHOTO
    text, markup = walk_texts.ask_place(context.services, round_, _)
    await context.bot.send_message(chat.id, text, reply_markup=markup)
    return PLACE


async def mark_ok(update: Update, context: HouqinContext, data: WalkButton) -> str | int | None:
    """正常 on an item (or 本区域全部正常 on its area)."""
    query = update.callback_query
    assert query is not None
    loaded = await _round_to_mark(update, context, data.round_id)
    if loaded is None:
        return None
    person, round_ = loaded
    _ = context._
    services = context.services
    item = act.checklist_item(services, round_, data.key)
    if item is None:
        drop_draft(context, DRAFT)
        await query.answer(walk_texts.refused(act.Refusal.NO_ITEM, _), show_alert=True)
        return await _show_next(update, context, data.round_id, edit=True)
    whole_area = data.action == WalkAction.AREA
    marked = await act.mark_ok(services, data.round_id, item, person, whole_area=whole_area)
    drop_draft(context, DRAFT)
    if whole_area:
        note = walk_texts.area_marked_ok(item.area, marked.count, _)
    elif marked.count:
        note = walk_texts.marked_ok(item, _)
    else:
        note = walk_texts.already_marked(item, marked.first_by, _, me=person)
    await query.answer(
        None if marked.count else walk_texts.already_marked_answer(marked.first_by, person, _)
    )
    outbox.deliver_soon(context.bot, services)
    await _completed(context, marked)
    return await _show_next(update, context, data.round_id, edit=True, done_note=note)


async def _completed(context: HouqinContext, marked: act.Marked) -> None:
    """A mark completed the round: its notices say so, their 开始检查 / 继续检查 gone."""
    if marked.completed and marked.round is not None:
        await notices.drop_start_buttons(context.bot, context.services, marked.round)


async def mark_bad(update: Update, context: HouqinContext, data: WalkButton) -> str | int | None:
    """异常 on an item: ask for a note (then a photo and the place)."""
    query = update.callback_query
    assert query is not None
    loaded = await _round_to_mark(update, context, data.round_id)
    if loaded is None:
        return None
    _person, round_ = loaded
    _ = context._
    services = context.services
    item = act.checklist_item(services, round_, data.key)
    if item is None or await act.is_marked(services, data.round_id, item.key):
        why = act.Refusal.NO_ITEM if item is None else "marked"
        await query.answer(walk_texts.refused(why, _), show_alert=True)
        return await _show_next(update, context, data.round_id, edit=True)
    save_draft(context, DRAFT, ProblemDraft(round=data.round_id, item=item.key))
    await query.answer()
    await edit_or_ignore(query.edit_message_text(walk_texts.ask_note(item, _)))
    return NOTE


async def pause(update: Update, context: HouqinContext, data: WalkButton) -> int | None:
    """暂停: progress is already saved; say how to resume."""
    query = update.callback_query
    assert query is not None
    if await _round_to_mark(update, context, data.round_id) is None:
        return None
    _ = context._
    drop_draft(context, DRAFT)
    walk = await act.progress(context.services, data.round_id)
    await query.answer()
    if walk is None:
        await edit_or_ignore(query.edit_message_text(walk_texts.refused("no_round", _)))
        return END
    await edit_or_ignore(
        query.edit_message_text(
            walk_texts.paused(walk, _), reply_markup=notices.continue_keyboard(data.round_id, _)
        )
    )
    return END


# --- the 异常: note → photo → place ----------------------------------------------------------


async def got_note(update: Update, context: HouqinContext) -> str | int | None:
    """The problem's description; then ask for a photo (or the place, with a captioned photo)."""
    message = update.effective_message
    assert message is not None
    _ = context._
    draft = _draft(context)
    if draft is None:
        return await _expired(update, context)
    text = await typed_text(
        update, context, store.NOTE_LIMIT, if_empty=_("Please describe the problem in words.")
    )
    if text is None:
        return None
    draft.note = text
    if message.photo:
        draft.photo = message.photo[-1].file_id
        return await _ask_place(update, context, draft)
    save_draft(context, DRAFT, draft)
    prompt, markup = walk_texts.ask_photo(draft.round, _)
    await message.reply_text(prompt, reply_markup=markup)
    return PHOTO


async def got_photo(update: Update, context: HouqinContext) -> str | int | None:
    """The problem's photo; then ask for the place."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    if draft is None or draft.note is None:
        return await _expired(update, context)
    if not message.photo:
        await reply(update, context, context._("Please send a photo, or press Skip the photo."))
        return None
    draft.photo = message.photo[-1].file_id
    return await _ask_place(update, context, draft)


async def skip_photo(update: Update, context: HouqinContext, data: WalkButton) -> str | int:
    """跳过照片."""
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    if draft is None or draft.note is None:
        return await _expired(update, context)
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    return await _ask_place(update, context, draft)


async def _ask_place(update: Update, context: HouqinContext, draft: ProblemDraft) -> str | int:
    draft.past_photo = True
    save_draft(context, DRAFT, draft)
    person = context.person
    if person is None:
        return await _expired(update, context)
    found = await act.round_to_mark(context.services, draft.round, person)
    if isinstance(found, act.Refusal):
        return await end_form(update, context, DRAFT, walk_texts.refused(found, context._))
    text, markup = walk_texts.ask_place(context.services, found, context._)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, text, reply_markup=markup)
    return PLACE


async def got_place_text(update: Update, context: HouqinContext) -> str | int | None:
    """The exact place as text: save the 异常."""
    text = await typed_text(
        update,
        context,
        store.PLACE_LIMIT,
        if_empty=context._("Please type the place, or pick a building."),
    )
    if text is None:
        return None
    return await _save_problem(update, context, place=text, building_key=None)


async def got_place_button(update: Update, context: HouqinContext, data: WalkButton) -> str | int:
    """A building button (or 不指定): save the 异常."""
    query = update.callback_query
    assert query is not None
    draft = _draft(context)
    if draft is None or draft.note is None or draft.round != data.round_id:
        return await _expired(update, context)
    if await _round_to_mark(update, context, data.round_id) is None:  # answered why not
        drop_draft(context, DRAFT)
        await edit_or_ignore(query.edit_message_reply_markup(None))
        return END
    profile = context.services.profile
    building = None
    if data.key != NO_KEY:
        try:
            building = profile.building(data.key)
        except KeyError:
            building = None
    place = profile.place_label(building) if building is not None else None
    # Saved first: if the database is busy, the place buttons stay for another press and the
    # busy answer is this press's only answer.
    step = await _save_problem(
        update, context, place=place, building_key=building.key if building else None
    )
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    return step


async def _save_problem(
    update: Update, context: HouqinContext, *, place: str | None, building_key: str | None
) -> str | int:
    draft = _draft(context)
    if draft is None or draft.note is None:
        return await _expired(update, context)
    loaded = await _round_to_mark(update, context, draft.round)
    if loaded is None:
        drop_draft(context, DRAFT)
        return END
    person, round_ = loaded
    _ = context._
    services = context.services
    item = act.checklist_item(services, round_, draft.item)
    if item is None:
        return await end_form(update, context, DRAFT, walk_texts.refused(act.Refusal.NO_ITEM, _))
    problem = act.Problem(draft.note, draft.photo, place, building_key)
    marked = await act.mark_problem(services, draft.round, item, person, problem)
    if marked.count:
        number = marked.ticket.number if marked.ticket else None
        note = walk_texts.problem_recorded(item, number, _)
    else:
        note = walk_texts.already_marked(item, marked.first_by, _, me=person)
    drop_draft(context, DRAFT)
    if marked.ticket is not None:
        await ticket_notices.publish_ticket(context.bot, services, marked.ticket)
    outbox.deliver_soon(context.bot, services)
    await _completed(context, marked)
    return await _show_next(update, context, draft.round, edit=False, done_note=note)


async def cancel(update: Update, context: HouqinContext) -> int:
    """/cancel during the walk: drop the 异常 being written; marks made so far stay."""
    return await end_form(
        update,
        context,
        DRAFT,
        context._(
            "Cancelled; the problem was not saved. Marks made so far are kept: "
            "/inspections continues the round."
        ),
    )


async def wrong_input(update: Update, context: HouqinContext) -> None:
    """Stickers, voice and the like inside the walk's form."""
    await reply(
        update,
        context,
        context._("I can't use that here. Please answer the question above, or /cancel."),
    )


# --- the form --------------------------------------------------------------------------------


def _menu_labels() -> filters.BaseFilter:
    """Any reply-keyboard menu button: never taken as a note or a place."""
    labelled = [menu_filter(c.name) for c in COMMANDS if c.menu_label]
    return functools.reduce(operator.or_, labelled)


def _is(*actions: WalkAction) -> Callable[[WalkButton], bool]:
    """Accepts walk buttons of these actions."""
    return lambda data: data.action in actions


def walk_form(everywhere: Sequence[AnyHandler]) -> Form:
    """The walk as a form: item buttons (entry points), and the 异常 sub-steps."""
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND & ~_menu_labels()
    other = private & ~filters.COMMAND & ~filters.StatusUpdate.ALL
    return Form(
        name=FORM,
        title=N_("inspection walk"),
        entry_points=[
            on_button(WalkButton, start_walk, when=_is(WalkAction.START)),
            on_button(WalkButton, mark_ok, when=_is(WalkAction.OK, WalkAction.AREA)),
            on_button(WalkButton, mark_bad, when=_is(WalkAction.BAD)),
            on_button(WalkButton, pause, when=_is(WalkAction.PAUSE)),
        ],
        steps={
            WALK: [],
            NOTE: [
                MessageHandler(text | (private & filters.PHOTO & filters.CAPTION), got_note),
                MessageHandler(other, wrong_input),
            ],
            PHOTO: [
                MessageHandler(private & filters.PHOTO, got_photo),
                on_button(WalkButton, skip_photo, when=_is(WalkAction.SKIP)),
                MessageHandler(text | other, got_photo),
            ],
            PLACE: [
                MessageHandler(text, got_place_text),
                on_button(WalkButton, got_place_button, when=_is(WalkAction.PLACE)),
                MessageHandler(other, wrong_input),
            ],
        },
        cancel=cancel,
        resume_hint=N_("/inspections continues the round."),
        drafts=(DRAFT,),
        everywhere=everywhere,
    )
