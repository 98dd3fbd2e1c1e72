"""The act form's draft (handlers.ticket_act): which input for which ticket, so far, and the
helpers its steps share (the completion's materials and hours steps in
handlers.ticket_costs included)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from telegram import Update

from handlers.context import HouqinContext
from handlers.forms import END, drop_draft, load_draft
from handlers.ticket_presses import alert

ACT_DRAFT = "tk_act"
ActName = Literal["done", "defer", "xfer", "rej", "rw", "comment"]
Step = Literal["result", "note", "materials", "qty", "hours", "reason", "date", "comment"]


class ActDraft(BaseModel):
    """The act form's draft (user_data["tk_act"]): which input for which ticket, so far."""

    action: ActName
    id: int
    step: Step
    result: str | None = None
    reason: str | None = None
    voice: str | None = None  # a voice note (sent before the result was chosen, or as the note)
    voice_seconds: int = 0
    # 维修完成, kept until the last step commits it all at once
    note: str | None = None
    photo: str | None = None
    materials: list[dict[str, str | None]] = []  # storage.ticket_costs.MaterialLine.as_dict
    pending: str | None = None  # the catalogue material whose quantity is asked
    hours: str | None = None


def draft_of(context: HouqinContext) -> ActDraft | None:
    """The act form's draft, or None (lost with an upgrade)."""
    return load_draft(context, ACT_DRAFT, ActDraft)


def pressed_draft(context: HouqinContext, ticket_id: int, *steps: Step) -> ActDraft | None:
    """The draft a button of the form acts on: the same ticket, at one of these steps."""
    draft = draft_of(context)
    if draft is None or draft.id != ticket_id or draft.step not in steps:
        return None
    return draft


async def expired(update: Update, context: HouqinContext) -> object:
    """A button of a step the form is no longer at (or of another ticket)."""
    await alert(update, context, context._("This button has expired."))
    return None


def end_act(context: HouqinContext) -> object:
    """The act form ends: its draft is dropped."""
    drop_draft(context, ACT_DRAFT)
    return END
