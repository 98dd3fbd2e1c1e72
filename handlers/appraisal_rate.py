"""The director's /rate walk (领导评价): one appraised person after another, a score each.

Declared as a form (handlers.forms): its draft (`RateDraft`, kept under "appraisal_rate" as
before) says which month, whom, and how far the walk got; scores are saved as they are given.
Starting another form parks the walk; /rate (for the same month) goes on where it was.
"""

from __future__ import annotations

import re

from pydantic import BaseModel
from telegram import Message, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from actions import appraisal as actions
from handlers.appraisal_common import parse_period, private_only
from handlers.buttons import on_button
from handlers.common import allowed_press, end_form, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, Form, drop_draft, load_draft, opening, save_draft
from notices.appraisal import RateButton, rate_answered, rate_prompt, rate_summary
from notices.render import edit_or_ignore
from school.i18n import N_
from storage import appraisal
from storage.models import Role
from storage.stats import Month

FORM = "rate"
STEP = "score"
FORM_KEY = "appraisal_rate"
SCORE_PATTERN = re.compile(r"^\s*(\d{1,3}(?:\.\d)?)\s*(分)?\s*$")
RESUME_HINT = N_("Send /rate to go on with it.")


class RateDraft(BaseModel):
    """How far the walk got (the same keys as before the form owner, so a walk resumes)."""

    period: str  # the month, 2026-10
    ids: list[int]  # the appraised people, in the order they are asked
    index: int = 0  # who is asked now
    saved: int = 0
    skipped: int = 0
    card: int | None = None  # the message asking about the current person

    @property
    def month(self) -> Month:
        return Month.parse(self.period)

    @property
    def done(self) -> bool:
        return self.index >= len(self.ids)


async def ask_next(update: Update, context: HouqinContext, draft: RateDraft) -> str | int:
    """Show the walk's current person (skipping anyone no longer appraised), or finish."""
    _ = context._
    chat = update.effective_user
    assert chat is not None
    services = context.services
    async with services.database.reading() as session:
        people = {p.id: p for p in await appraisal.appraised_people(session, services.profile)}
        scores = await appraisal.leader_scores(session, draft.month)
    while not draft.done and draft.ids[draft.index] not in people:
        draft.index += 1
    if draft.done:
        drop_draft(context, FORM_KEY)
        published = await actions.is_published(services, draft.month)
        text = rate_summary(
            draft.month, saved=draft.saved, skipped=draft.skipped, published=published, _=_
        )
        await context.bot.send_message(chat.id, text)
        return END
    save_draft(context, FORM_KEY, draft)
    person_id = draft.ids[draft.index]
    text, markup = rate_prompt(
        people[person_id],
        draft.month,
        index=draft.index,
        count=len(draft.ids),
        current=scores.get(person_id),
        _=_,
    )
    sent = await context.bot.send_message(chat.id, text, reply_markup=markup)
    draft.card = sent.message_id
    save_draft(context, FORM_KEY, draft)
    return STEP


async def _answered_card(
    context: HouqinContext, chat_id: int, draft: RateDraft, index: int, done: str
) -> None:
    """Show the question about the person at `index` as answered: the score as saved now
    (no more "no score yet" beside it) and what was done, its buttons gone."""
    if draft.card is None:
        return
    services = context.services
    person_id = draft.ids[index]
    async with services.database.reading() as session:
        people = {p.id: p for p in await appraisal.appraised_people(session, services.profile)}
        scores = await appraisal.leader_scores(session, draft.month)
    if person_id not in people:
        return
    text = rate_answered(
        people[person_id],
        draft.month,
        index=index,
        count=len(draft.ids),
        current=scores.get(person_id),
        done=done,
        _=context._,
    )
    await edit_or_ignore(
        context.bot.edit_message_text(text, chat_id=chat_id, message_id=draft.card)
    )


async def rate_start(update: Update, context: HouqinContext) -> str | int:
    """/rate [2026-10] (director): walk the appraised staff, one score each; a walk of the same
    month that was put aside goes on where it was."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await private_only(update, context):
        return END
    _ = context._
    period = parse_period(context, context.args[0] if context.args else None)
    if period is None or period.kind != "month":
        await reply(update, context, _("Which month? Send /rate 2026-10 (not a future month)."))
        return END
    draft = load_draft(context, FORM_KEY, RateDraft)
    if draft is not None and draft.period == str(period) and not draft.done:
        await opening(context)
        return await ask_next(update, context, draft)
    async with context.services.database.reading() as session:
        people = await appraisal.appraised_people(session, context.services.profile)
    if not people:
        await reply(update, context, _("Nobody takes part in the appraisal yet."))
        return END
    await opening(context)
    return await ask_next(
        update, context, RateDraft(period=str(period), ids=[p.id for p in people])
    )


async def _save_score(context: HouqinContext, draft: RateDraft, score: float) -> None:
    assert context.person is not None
    await actions.give_leader_score(
        context.services,
        person_id=draft.ids[draft.index],
        month=draft.month,
        score=score,
        by=context.person,
    )
    draft.saved += 1
    draft.index += 1


def _is_current(draft: RateDraft | None, data: RateButton) -> bool:
    """Whether a button is the one of the walk's current question."""
    return (
        draft is not None
        and not draft.done
        and draft.period == data.month
        and draft.ids[draft.index] == data.person_id
    )


async def rate_button(update: Update, context: HouqinContext, data: RateButton) -> str | int | None:
    """A score (or skip) button of the walk."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return None
    _ = context._
    draft = load_draft(context, FORM_KEY, RateDraft)
    if not _is_current(draft, data):
        await query.answer(_("This button is from an earlier step."), show_alert=True)
        return None
    assert draft is not None
    if not data.skip and not 0 <= data.score <= 100:  # no button of ours says so: forged
        await query.answer(_("This button is not valid. Send /start to begin again."))
        return None
    index = draft.index
    if data.skip:
        draft.skipped += 1
        draft.index += 1
        done = _("Skipped.")
    else:
        await _save_score(context, draft, float(data.score))
        done = _("Saved: {score}").format(score=data.score)
    await query.answer(done)
    message = query.message
    if isinstance(message, Message):
        draft.card = message.message_id
        await _answered_card(context, message.chat.id, draft, index, done)
    return await ask_next(update, context, draft)


async def rate_typed(update: Update, context: HouqinContext) -> str | int | None:
    """A typed score for the current person."""
    message = update.effective_message
    assert message is not None
    _ = context._
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        drop_draft(context, FORM_KEY)
        return END
    draft = load_draft(context, FORM_KEY, RateDraft)
    if draft is None or draft.done:
        drop_draft(context, FORM_KEY)
        return END
    match = SCORE_PATTERN.match(message.text or "")
    score = float(match.group(1)) if match else -1.0
    if not 0 <= score <= 100:
        await reply(
            update, context, _("Please type a score from 0 to 100, press a button, or /cancel.")
        )
        return None
    index = draft.index
    await _save_score(context, draft, score)
    done = _("Saved: {score}").format(score=f"{score:g}")
    await reply(update, context, done)
    await _answered_card(context, message.chat.id, draft, index, done)
    return await ask_next(update, context, draft)


async def rate_other(update: Update, context: HouqinContext) -> None:
    """A sticker, photo or voice where a score is expected."""
    await reply(
        update, context, context._("Please type a score from 0 to 100, press a button, or /cancel.")
    )


async def rate_cancel(update: Update, context: HouqinContext) -> int:
    """/cancel inside the walk: the scores given so far stay saved."""
    draft = load_draft(context, FORM_KEY, RateDraft)
    return await end_form(
        update,
        context,
        FORM_KEY,
        context._("Stopped. The {saved} scores given so far are saved.").format(
            saved=draft.saved if draft else 0
        ),
    )


async def rate_button_outside(update: Update, context: HouqinContext, data: RateButton) -> None:
    """A walk's button pressed while the walk is not the open form (put aside, or over)."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return
    draft = load_draft(context, FORM_KEY, RateDraft)
    if _is_current(draft, data):
        await query.answer(context._(RESUME_HINT), show_alert=True)
    else:
        await query.answer(context._("This button is from an earlier step."), show_alert=True)


def forms() -> list[Form]:
    """The /rate walk, for the form owner."""
    return [
        Form(
            name=FORM,
            title=N_("leader's scoring"),
            entry_points=[CommandHandler("rate", rate_start)],
            steps={
                STEP: [
                    on_button(RateButton, rate_button),
                    MessageHandler(
                        filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, rate_typed
                    ),
                    MessageHandler(
                        filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
                        rate_other,
                    ),
                ]
            },
            cancel=rate_cancel,
            resume_hint=RESUME_HINT,
            drafts=(FORM_KEY,),
        )
    ]


def register(application: HouqinApp) -> None:
    """The walk's buttons outside the form (group 0, after the form owner)."""
    application.add_handler(on_button(RateButton, rate_button_outside))
