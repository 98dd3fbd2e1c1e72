"""The materials and hours steps of 维修完成 (part of the act form, handlers.ticket_act): after
the note, the worker taps the materials used from the profile's catalogue with their quantity
(or types one with its cost: 水管 2米 30元), then the hours worked; each step is skipped with
one tap. Nothing is stored until the last step: the completion commits it all at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

from telegram import Update
from telegram.ext import BaseHandler, MessageHandler, filters

from handlers.buttons import on_button
from handlers.common import reply, typed_text
from handlers.context import HouqinContext
from handlers.forms import save_draft
from handlers.ticket_act_draft import (
    ACT_DRAFT,
    ActDraft,
    Step,
    draft_of,
    end_act,
    expired,
    pressed_draft,
)
from handlers.ticket_form import PRIVATE_INPUT
from notices import ticket_costs as said
from notices.render import edit_or_ignore, esc
from notices.ticket_costs import CostsButton, CostsMove, HoursButton, MaterialButton, QuantityButton
from storage import ticket_costs as costs
from storage.ticket_costs import MaterialLine

AnyHandler = BaseHandler[Update, HouqinContext, object]
Finish = Callable[[Update, HouqinContext, ActDraft], Awaitable[object]]
MAX_LINE = 100


def _lines(draft: ActDraft) -> list[MaterialLine]:
    return [MaterialLine.from_dict(line) for line in draft.materials]


async def ask_costs(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    """After the note of 维修完成 (kept in the draft): ask the materials used."""
    draft.step = "materials"
    save_draft(context, ACT_DRAFT, draft)
    await _show_materials(update, context, draft, edit=False)
    return "materials"


async def _show_materials(
    update: Update, context: HouqinContext, draft: ActDraft, *, edit: bool
) -> None:
    """The materials step's message: edited in place after a button, sent anew after text."""
    _ = context._
    lines = _lines(draft)
    text = said.materials_prompt(lines, _)
    markup = said.materials_markup(context.services.profile, draft.id, lines, _)
    query = update.callback_query
    if edit and query is not None:
        await edit_or_ignore(query.edit_message_text(text, reply_markup=markup))
        return
    user = update.effective_user
    assert user is not None
    await context.bot.send_message(user.id, text, reply_markup=markup)


async def _ask_hours(update: Update, context: HouqinContext, draft: ActDraft) -> object:
    draft.step, draft.pending = "hours", None
    save_draft(context, ACT_DRAFT, draft)
    _ = context._
    text = _("How many hours did the job take? Tap or type them (1.5, 90分钟), or skip.")
    markup = said.hours_markup(draft.id, _)
    query = update.callback_query
    if query is not None:
        await edit_or_ignore(query.edit_message_text(text, reply_markup=markup))
    else:
        await reply(update, context, text, reply_markup=markup)
    return "hours"


async def _add_line(
    update: Update, context: HouqinContext, draft: ActDraft, line: MaterialLine, *, edit: bool
) -> object:
    if len(draft.materials) >= costs.MAX_LINES:
        await reply(
            update,
            context,
            context._("At most {count} materials per job.").format(count=costs.MAX_LINES),
        )
        return None
    draft.materials.append(line.as_dict())
    draft.step, draft.pending = "materials", None
    save_draft(context, ACT_DRAFT, draft)
    await _show_materials(update, context, draft, edit=edit)
    return "materials"


def costs_steps(finish: Finish) -> dict[str, Sequence[AnyHandler]]:
    """The steps of the act form for materials, a quantity and hours; `finish` commits."""

    async def material_picked(
        update: Update, context: HouqinContext, data: MaterialButton
    ) -> object:
        query = update.callback_query
        assert query is not None
        draft = pressed_draft(context, data.ticket_id, "materials")
        if draft is None:
            return await expired(update, context)
        try:
            material = next(
                m for m in context.services.profile.repair.materials if m.key == data.key
            )
        except StopIteration:
            return await expired(update, context)
        await query.answer()
        draft.step, draft.pending = "qty", material.key
        save_draft(context, ACT_DRAFT, draft)
        _ = context._
        await edit_or_ignore(
            query.edit_message_text(
                _("{name} ({price}/{unit}): how many? Tap or type the quantity.").format(
                    name=esc(material.name),
                    price=costs.money_text(material.price),
                    unit=esc(material.unit),
                ),
                reply_markup=said.quantity_markup(draft.id, _),
            )
        )
        return "qty"

    async def quantity(
        update: Update, context: HouqinContext, draft: ActDraft, value: Decimal
    ) -> object:
        material = next(
            (m for m in context.services.profile.repair.materials if m.key == draft.pending), None
        )
        if material is None:  # the profile changed meanwhile
            draft.step, draft.pending = "materials", None
            save_draft(context, ACT_DRAFT, draft)
            await _show_materials(update, context, draft, edit=False)
            return "materials"
        line = MaterialLine.of(material, value)
        return await _add_line(update, context, draft, line, edit=update.callback_query is not None)

    async def quantity_pressed(
        update: Update, context: HouqinContext, data: QuantityButton
    ) -> object:
        query = update.callback_query
        assert query is not None
        draft = pressed_draft(context, data.ticket_id, "qty")
        if draft is None or not 0 < data.quantity <= costs.MAX_QUANTITY:
            return await expired(update, context)
        await query.answer()
        return await quantity(update, context, draft, Decimal(data.quantity))

    async def quantity_typed(update: Update, context: HouqinContext) -> object:
        draft = draft_of(context)
        if draft is None:
            return end_act(context)
        text = await _typed(update, context)
        if text is None:
            return None
        value = costs.amount(text.rstrip("个支根米把包卷件套只"), limit=costs.MAX_QUANTITY)
        if value is None:
            await reply(update, context, context._("Send the quantity as a number, like 2 or 1.5."))
            return None
        return await quantity(update, context, draft, value)

    async def line_typed(update: Update, context: HouqinContext) -> object:
        draft = draft_of(context)
        if draft is None:
            return end_act(context)
        text = await _typed(update, context)
        if text is None:
            return None
        line = costs.parse_line(context.services.profile, text)
        if line is None:
            await reply(update, context, context._(said.MATERIAL_NOT_READ))
            return None
        return await _add_line(update, context, draft, line, edit=False)

    async def hours(
        update: Update, context: HouqinContext, draft: ActDraft, value: Decimal | None
    ) -> object:
        draft.hours = str(value) if value is not None else None
        save_draft(context, ACT_DRAFT, draft)
        return await finish(update, context, draft)

    async def hours_pressed(update: Update, context: HouqinContext, data: HoursButton) -> object:
        query = update.callback_query
        assert query is not None
        draft = pressed_draft(context, data.ticket_id, "hours")
        value = (Decimal(data.minutes) / 60).quantize(Decimal("0.01"))
        if draft is None or not 0 < value <= costs.MAX_HOURS:
            return await expired(update, context)
        done = await hours(update, context, draft, value)  # committed (or raised: busy)
        await query.answer()
        chosen = context._("{hours} h worked").format(hours=costs.quantity_text(value))
        await edit_or_ignore(query.edit_message_text("⏱ " + chosen))
        return done

    async def hours_typed(update: Update, context: HouqinContext) -> object:
        draft = draft_of(context)
        if draft is None:
            return end_act(context)
        text = await _typed(update, context)
        if text is None:
            return None
        value = costs.parse_hours(text)
        if value is None:
            await reply(
                update,
                context,
                context._("Send the hours as a number up to 24, like 1.5, or press Skip."),
            )
            return None
        return await hours(update, context, draft, value)

    async def costs_pressed(update: Update, context: HouqinContext, data: CostsButton) -> object:
        query = update.callback_query
        assert query is not None
        at: Step = "qty" if data.move == CostsMove.BACK else "materials"
        if data.move == CostsMove.NO_HOURS:
            at = "hours"
        draft = pressed_draft(context, data.ticket_id, at)
        if draft is None:
            return await expired(update, context)
        if data.move not in (CostsMove.SKIP_ALL, CostsMove.NO_HOURS):
            await query.answer()  # the others commit first: a busy database is told then
        if data.move == CostsMove.NEXT:
            return await _ask_hours(update, context, draft)
        if data.move in (CostsMove.UNDO, CostsMove.BACK):
            if data.move == CostsMove.UNDO and draft.materials:
                draft.materials.pop()
            draft.step, draft.pending = "materials", None
            save_draft(context, ACT_DRAFT, draft)
            await _show_materials(update, context, draft, edit=True)
            return "materials"
        if data.move == CostsMove.SKIP_ALL:
            draft.materials = []
        done = await hours(update, context, draft, None)  # committed (or raised: busy)
        await query.answer()
        await edit_or_ignore(query.edit_message_reply_markup(None))
        return done

    text = PRIVATE_INPUT & filters.TEXT
    others = MessageHandler(PRIVATE_INPUT, _not_text)
    buttons = on_button(CostsButton, costs_pressed)
    return {
        "materials": [
            on_button(MaterialButton, material_picked),
            buttons,
            MessageHandler(text, line_typed),
            others,
        ],
        "qty": [
            on_button(QuantityButton, quantity_pressed),
            buttons,
            MessageHandler(text, quantity_typed),
            others,
        ],
        "hours": [
            on_button(HoursButton, hours_pressed),
            buttons,
            MessageHandler(text, hours_typed),
            others,
        ],
    }


async def _typed(update: Update, context: HouqinContext) -> str | None:
    return await typed_text(
        update, context, MAX_LINE, if_empty=context._("Please send text, or use the buttons.")
    )


async def _not_text(update: Update, context: HouqinContext) -> object:
    """A sticker, a photo or a voice message during the materials or hours steps."""
    await reply(
        update,
        context,
        context._("Please type it as text or use the buttons above. /cancel to stop."),
    )
    return None
