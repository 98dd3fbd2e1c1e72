"""Post duties (岗位职责, 自订加审核): /duties and the draft form for staff; the director's
Approve button and the return form (a comment for the staff member).

Both forms are short (one message each), so another form closes them.
"""

from __future__ import annotations

from pydantic import BaseModel
from telegram import Update
from telegram.ext import CommandHandler, MessageHandler

from actions import worklogs as actions
from handlers.buttons import on_button
from handlers.common import allowed_press, end_form, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, Form, drop_draft, load_draft, opening, save_draft
from handlers.worklog_form import private_other, private_text
from notices import outbox
from notices import worklogs as notices
from notices.render import edit_or_ignore, esc, send_long
from notices.worklogs import DraftDutiesButton, DutiesButton, DutiesDecision
from school.i18n import N_
from storage import post_duties
from storage.models import Role
from storage.post_duties import DutiesStatus

DRAFTING, RETURNING = "duties", "duties_return"  # the forms' names
TEXT, COMMENT = "text", "comment"  # their steps
RETURN_DRAFT = "worklog_duties_return"  # user_data key: the draft being returned
MAX_COMMENT_CHARS = 500
DUTIES_PLEASE = N_("Send the duties as text, one per line.")


class ReturnDraft(BaseModel):
    """The post-duties draft a director is returning."""

    duties_id: int


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def duties_command(update: Update, context: HouqinContext) -> None:
    """/duties: one's duties (approved, else the post's), the draft's status, a draft button."""
    person = await require_role(update, context, {Role.STAFF})
    if person is None or person.id is None:
        return
    services = context.services
    async with services.database.reading() as session:
        approved = await post_duties.approved_duties(session, person.id)
        latest = await post_duties.latest_duties(session, person.id)
    text, markup = notices.duties_overview(services, person, approved, latest, context._)
    await send_long(context.bot, _chat_id(update), text, markup)


# --- staff: the draft --------------------------------------------------------------------------


async def start_draft(update: Update, context: HouqinContext, data: DraftDutiesButton) -> object:
    """The ✏️ button: ask for the text of the duties."""
    query = await allowed_press(update, context, {Role.STAFF})
    if query is None:
        return None
    await query.answer()
    await opening(context)
    await context.bot.send_message(
        _chat_id(update),
        context._(
            "Send your post duties in one message, one duty per line (at most {chars} "
            "characters). The director approves them. /cancel to stop."
        ).format(chars=post_duties.MAX_DUTIES_CHARS),
    )
    return TEXT


async def submit_text(update: Update, context: HouqinContext) -> object:
    """The drafted duties: filed as pending, the directors are asked to approve."""
    message = update.effective_message
    assert message is not None and message.text is not None
    person = await require_role(update, context, {Role.STAFF})
    if person is None:
        return END
    _ = context._
    if len(message.text) > post_duties.MAX_DUTIES_CHARS:
        await reply(
            update,
            context,
            _(
                "That is too long (at most {chars} characters). Shorten it and send it again."
            ).format(chars=post_duties.MAX_DUTIES_CHARS),
        )
        return TEXT
    if not post_duties.duties_lines(message.text):
        await reply(update, context, _(DUTIES_PLEASE))
        return TEXT
    await actions.submit_duties(context.services, person=person, text=message.text)
    await reply(update, context, _("Submitted. I will tell you when the director has decided."))
    outbox.deliver_soon(context.bot, context.services)
    return END


async def text_other(update: Update, context: HouqinContext) -> object:
    """Anything but text while the duties are expected."""
    await reply(update, context, context._(DUTIES_PLEASE))
    return TEXT


async def cancelled(update: Update, context: HouqinContext) -> object:
    """/cancel in either form."""
    return await end_form(update, context, RETURN_DRAFT, context._("Cancelled."))


# --- the director: approve or return -------------------------------------------------------------


async def _decide(
    update: Update, context: HouqinContext, duties_id: int, *, approve: bool, comment: str | None
) -> None:
    director = context.person
    assert director is not None
    _ = context._
    services = context.services
    decided = await actions.decide_duties(
        services, director=director, duties_id=duties_id, approve=approve, comment=comment
    )
    if decided is None:
        await reply(update, context, _("This draft no longer exists."))
        return
    outcome = notices.duties_outcome(decided.draft, _)
    if not decided.changed:
        await reply(
            update, context, _("This draft was already handled: {outcome}.").format(outcome=outcome)
        )
        return
    name = esc(decided.staff.name) if decided.staff is not None else "?"
    done = _("Post duties of {name}: {outcome} by {director}.").format(
        name=name, outcome=outcome, director=esc(director.name)
    )
    query = update.callback_query
    if query is not None:
        await query.answer(outcome)
        await edit_or_ignore(query.edit_message_reply_markup(None))
    await context.bot.send_message(_chat_id(update), done)
    outbox.deliver_soon(context.bot, services)


async def approve(update: Update, context: HouqinContext, data: DutiesButton) -> None:
    """A director approves a draft."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    await _decide(update, context, data.duties_id, approve=True, comment=None)


async def start_return(update: Update, context: HouqinContext, data: DutiesButton) -> object:
    """A director starts returning a draft: ask for the comment."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return None
    _ = context._
    async with context.services.database.reading() as session:
        draft = await post_duties.get_duties(session, data.duties_id)
    if draft is None:
        await query.answer(_("This draft no longer exists."), show_alert=True)
        return None
    if draft.status != DutiesStatus.PENDING:
        await query.answer(_("This draft was already handled."), show_alert=True)
        return None
    await query.answer()
    await opening(context)
    save_draft(context, RETURN_DRAFT, ReturnDraft(duties_id=data.duties_id))
    await context.bot.send_message(
        _chat_id(update),
        _("Why is it returned? Send a short comment for the staff member (/cancel to stop)."),
    )
    return COMMENT


async def return_comment(update: Update, context: HouqinContext) -> object:
    """The director's comment: the draft is returned with it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return END
    draft = load_draft(context, RETURN_DRAFT, ReturnDraft)
    if draft is None:
        return END
    comment = message.text.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        await reply(update, context, context._("Keep the comment under 500 characters."))
        return COMMENT
    # Decided first: if the database is busy the draft stays and the same comment works again.
    await _decide(update, context, draft.duties_id, approve=False, comment=comment)
    drop_draft(context, RETURN_DRAFT)
    return END


async def comment_other(update: Update, context: HouqinContext) -> object:
    """Anything but text while the comment is expected."""
    await reply(update, context, context._("Send the comment as text (/cancel to stop)."))
    return COMMENT


# --- registration ------------------------------------------------------------------------------


def duties_forms() -> list[Form]:
    """The post-duties draft and the director's return comment, for the form owner."""
    return [
        Form(
            name=DRAFTING,
            title=N_("post duties draft"),
            entry_points=[on_button(DraftDutiesButton, start_draft)],
            steps={
                TEXT: [
                    MessageHandler(private_text(), submit_text),
                    MessageHandler(private_other(), text_other),
                ]
            },
            cancel=cancelled,
        ),
        Form(
            name=RETURNING,
            title=N_("return comment"),
            entry_points=[
                on_button(
                    DutiesButton, start_return, when=lambda b: b.decision == DutiesDecision.RETURN
                )
            ],
            steps={
                COMMENT: [
                    MessageHandler(private_text(), return_comment),
                    MessageHandler(private_other(), comment_other),
                ]
            },
            cancel=cancelled,
            drafts=(RETURN_DRAFT,),
        ),
    ]


def register(application: HouqinApp) -> None:
    """/duties and the Approve button (outside the forms)."""
    application.add_handler(CommandHandler("duties", duties_command))
    application.add_handler(
        on_button(DutiesButton, approve, when=lambda b: b.decision == DutiesDecision.APPROVE)
    )
