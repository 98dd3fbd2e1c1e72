"""The semester plan (学期工作计划): /plan by status, and the progress form.

A reminder's 📝 button (or /plan's) opens the form: tap a percentage, then send a note (a
photo with a caption counts) or tap "save without a note": ≤ 3 taps and 1 message. The draft
(item, percent, photo) is kept in user_data, so a restart resumes it.
"""

from __future__ import annotations

from pydantic import BaseModel
from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from actions import plans as act
from handlers.buttons import on_button
from handlers.common import private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, Form, drop_draft, load_draft, opening, save_draft
from handlers.worklog_form import private_other, private_text
from notices import plans as notices
from notices.plans import PercentButton, ProgressButton, SkipNoteButton
from notices.plans_sheet import milestones_of
from notices.render import edit_or_ignore, esc, send_long
from school.i18n import N_
from storage import plans
from storage.models import Person, Role

NAME = "plan_progress"
PERCENT, NOTE = "percent", "note"
DRAFT = "plan_progress"
MAX_NOTE = 500
CREW = {Role.STAFF, Role.DIRECTOR}
NOTE_PLEASE = N_("Send the note as text (or a photo with a caption), or tap save without one.")


class ProgressDraft(BaseModel):
    item_id: int
    percent: int | None = None
    photo: str | None = None


def _chat(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def plan_command(update: Update, context: HouqinContext) -> None:
    """/plan: the semester's items by status (a director all, staff their own, with buttons);
    /plan add 标题 | 类别 | 负责人 | 2026-12-31 [| 2026-12-10 招标完成; …]: a director adds one."""
    person = await require_role(update, context, CREW)
    if person is None:
        return
    _ = context._
    if not private_chat(update):
        await reply(update, context, _("Use /plan in a private chat with me."))
        return
    services = context.services
    if context.args and context.args[0] == "add":
        await _add_item(update, context, person)
        return
    semester, found = await act.overview(services, person)
    mine = Role(person.role) != Role.DIRECTOR
    today = services.local_now().date()
    text = notices.overview(semester, found, today, _, mine=mine)
    markup = notices.progress_markup([e.item for e in found], _) if mine else None
    await send_long(context.bot, _chat(update), text, markup)


ADD_USAGE = N_(
    "Add a plan item: /plan add title | category | owner (name or post) | due date "
    "[| 2026-12-10 milestone; …]"
)


async def _add_item(update: Update, context: HouqinContext, person: Person) -> None:
    """A director adds (or updates, by title) one item of the current semester by chat."""
    _ = context._
    if Role(person.role) != Role.DIRECTOR:
        await reply(update, context, _("Only the logistics director can do that."))
        return
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text.split(maxsplit=2)[2] if len(message.text.split(maxsplit=2)) > 2 else ""
    parts = [p.strip() for p in text.split("|")]
    if len(parts) not in (4, 5) or not all(parts[:4]):
        await reply(update, context, _(ADD_USAGE))
        return
    due = plans.parse_day(parts[3])
    milestones = milestones_of(parts[4]) if len(parts) == 5 else []
    if due is None or milestones is None:
        await reply(update, context, _(ADD_USAGE))
        return
    services = context.services
    categories = services.profile.plan.categories
    if parts[1] not in categories:
        await reply(
            update,
            context,
            _("Unknown category {category}; use one of: {categories}").format(
                category=esc(parts[1]), categories=esc("、".join(categories))
            ),
        )
        return
    if not await act.owner_known(services, parts[2]):
        await reply(
            update,
            context,
            _("{owner} is neither a registered staff member nor a post.").format(
                owner=esc(parts[2])
            ),
        )
        return
    semester = await act.current_semester(services)
    row = plans.Row(1, parts[0][:200], parts[1], parts[2], due, milestones)
    try:
        added, _updated = await act.import_plan(services, semester, [row])
    except act.PlanError as exc:
        await reply(update, context, "\n".join(esc(p.replace("row 1: ", "")) for p in exc.problems))
        return
    done = _("Added to {semester}: {title}") if added else _("Updated in {semester}: {title}")
    await reply(update, context, done.format(semester=esc(semester), title=esc(row.title)))


async def start_progress(update: Update, context: HouqinContext, data: ProgressButton) -> object:
    """📝 on a reminder or /plan: ask for the percentage."""
    query = update.callback_query
    assert query is not None
    person = await require_role(update, context, CREW)
    if person is None:
        return None
    _ = context._
    item = await act.item_for(context.services, data.item_id, person)
    if item is None:
        await query.answer(_("This plan item is not yours (or no longer exists)."), show_alert=True)
        return None
    await query.answer()
    await opening(context)
    save_draft(context, DRAFT, ProgressDraft(item_id=data.item_id))
    text, markup = notices.percent_prompt(item, _)
    await context.bot.send_message(_chat(update), text, reply_markup=markup)
    return PERCENT


async def percent_chosen(update: Update, context: HouqinContext, data: PercentButton) -> object:
    query = update.callback_query
    assert query is not None
    person = context.person
    draft = load_draft(context, DRAFT, ProgressDraft)
    if person is None or draft is None or draft.item_id != data.item_id:
        await query.answer(context._("This form is no longer open."), show_alert=True)
        return None
    item = await act.item_for(context.services, data.item_id, person)
    if item is None:
        await query.answer(context._("This plan item no longer exists."), show_alert=True)
        return END
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    draft.percent = data.percent
    save_draft(context, DRAFT, draft)
    text, markup = notices.note_prompt(item, data.percent, context._)
    await context.bot.send_message(_chat(update), text, reply_markup=markup)
    return NOTE


async def _save(
    update: Update, context: HouqinContext, person: Person, draft: ProgressDraft, note: str | None
) -> object:
    assert draft.percent is not None
    item = await act.report_progress(
        context.services,
        draft.item_id,
        person,
        percent=draft.percent,
        note=note,
        photo=draft.photo,
    )
    drop_draft(context, DRAFT)
    if item is None:
        await context.bot.send_message(_chat(update), context._("This plan item no longer exists."))
    else:
        await context.bot.send_message(_chat(update), notices.saved_text(item, context._))
    return END


async def note_sent(update: Update, context: HouqinContext) -> object:
    message = update.effective_message
    assert message is not None
    person = context.person
    draft = load_draft(context, DRAFT, ProgressDraft)
    if person is None or draft is None or draft.percent is None:
        return END
    if message.photo:
        draft.photo = message.photo[-1].file_id
        save_draft(context, DRAFT, draft)
        if not message.caption:
            await reply(update, context, context._("Photo kept. Now send the note, or save."))
            return NOTE
    note = (message.text or message.caption or "").strip()
    if len(note) > MAX_NOTE:
        await reply(
            update,
            context,
            context._("Keep the note under {limit} characters.").format(limit=MAX_NOTE),
        )
        return NOTE
    return await _save(update, context, person, draft, note or None)


async def note_skipped(update: Update, context: HouqinContext, data: SkipNoteButton) -> object:
    query = update.callback_query
    assert query is not None
    person = context.person
    draft = load_draft(context, DRAFT, ProgressDraft)
    if person is None or draft is None or draft.percent is None or draft.item_id != data.item_id:
        await query.answer(context._("This form is no longer open."), show_alert=True)
        return None
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    return await _save(update, context, person, draft, None)


async def other_input(update: Update, context: HouqinContext) -> object:
    await reply(update, context, context._(NOTE_PLEASE))
    return None


async def percent_please(update: Update, context: HouqinContext) -> object:
    await reply(update, context, context._("Tap a percentage above (/cancel to stop)."))
    return None


async def cancelled(update: Update, context: HouqinContext) -> object:
    drop_draft(context, DRAFT)
    await reply(update, context, context._("Cancelled. Nothing was saved."))
    return END


def forms() -> list[Form]:
    photo = filters.ChatType.PRIVATE & filters.PHOTO
    return [
        Form(
            name=NAME,
            title=N_("progress report"),
            entry_points=[on_button(ProgressButton, start_progress)],
            steps={
                PERCENT: [
                    on_button(PercentButton, percent_chosen),
                    MessageHandler(private_other(), percent_please),
                ],
                NOTE: [
                    on_button(SkipNoteButton, note_skipped),
                    MessageHandler(private_text() | photo, note_sent),
                    MessageHandler(private_other(), other_input),
                ],
            },
            cancel=cancelled,
            drafts=(DRAFT,),
        )
    ]


def register(application: HouqinApp) -> None:
    application.add_handler(CommandHandler("plan", plan_command))
