"""What the bot says of a job's materials, hours and cost (the card, the completion notice,
the worker's form, /place), and the buttons of the completion's materials and hours steps."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from telegram import InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.render import button, esc, keyboard
from notices.ticket_buttons import rows_of
from school.i18n import N_, Translate
from school.profile import SchoolProfile
from storage.models import TicketMaterial
from storage.ticket_costs import MaterialLine, line_text, money_text, quantity_text, total

QUANTITIES = (1, 2, 3, 4, 5, 10)
HOURS_CHOICES = (30, 60, 90, 120, 180, 240)  # minutes


@dataclass(frozen=True)
class MaterialButton(CallbackData, prefix="tkm", version=1):
    """A catalogue material picked on 维修完成."""

    ticket_id: int
    key: str


@dataclass(frozen=True)
class QuantityButton(CallbackData, prefix="tkq", version=1):
    """The quantity of the material being added."""

    ticket_id: int
    quantity: int


@dataclass(frozen=True)
class HoursButton(CallbackData, prefix="tkhr", version=1):
    """Hours worked, in minutes."""

    ticket_id: int
    minutes: int


class CostsMove(enum.StrEnum):
    """The other buttons of the materials and hours steps."""

    NEXT = "next"  # materials done: on to the hours
    SKIP_ALL = "skip"  # no materials, no hours: finish now
    UNDO = "undo"  # take the last line off
    BACK = "back"  # not this material after all
    NO_HOURS = "nohours"  # finish without hours


@dataclass(frozen=True)
class CostsButton(CallbackData, prefix="tkcs", version=1):
    """A move of the materials and hours steps."""

    ticket_id: int
    move: CostsMove


def cost_summary(
    lines: Sequence[MaterialLine | TicketMaterial], hours: Decimal | None, _: Translate
) -> list[str]:
    """'🧰 Materials: 水龙头 ×2个 ¥70.00; …', '💰 Cost ¥70.00 · ⏱ 1.5 h' (nothing if none)."""
    said: list[str] = []
    if lines:
        said.append(
            "🧰 "
            + _("Materials: {lines}").format(lines=esc("; ".join(line_text(x) for x in lines)))
        )
    parts = []
    if lines:
        parts.append("💰 " + _("Cost {amount}").format(amount=money_text(total(lines))))
    if hours:
        parts.append("⏱ " + _("{hours} h worked").format(hours=quantity_text(hours)))
    if parts:
        said.append(" · ".join(parts))
    return said


def materials_prompt(lines: Sequence[MaterialLine], _: Translate) -> str:
    """The materials step: what was added so far, and how to add more."""
    text = _(
        "Materials used? Tap a material and its quantity, or type one that is not listed "
        "with its cost, like: 水管 2米 30元"
    )
    if lines:
        listed = "\n".join(f"• {esc(line_text(line))}" for line in lines)
        text += (
            "\n\n" + listed + "\n" + _("Total: {amount}").format(amount=money_text(total(lines)))
        )
    return text


def materials_markup(
    profile: SchoolProfile, ticket_id: int, lines: Sequence[MaterialLine], _: Translate
) -> InlineKeyboardMarkup:
    """The catalogue (3 a row), then: done (or none used), take the last off, skip both."""
    picks = [
        button(f"{m.name} {money_text(m.price)}/{m.unit}", MaterialButton(ticket_id, m.key))
        for m in profile.repair.materials
    ]
    rows = rows_of(picks, 2)
    last = [
        button(
            _("✅ Done: hours next") if lines else _("No materials"),
            CostsButton(ticket_id, CostsMove.NEXT),
        )
    ]
    if lines:
        last.append(button(_("↩️ Remove last"), CostsButton(ticket_id, CostsMove.UNDO)))
    rows.append(last)
    rows.append(
        [button(_("⏭ Skip materials and hours"), CostsButton(ticket_id, CostsMove.SKIP_ALL))]
    )
    return keyboard(rows)


def quantity_markup(ticket_id: int, _: Translate) -> InlineKeyboardMarkup:
    """1 2 3 4 5 10, and back."""
    picks = [button(str(q), QuantityButton(ticket_id, q)) for q in QUANTITIES]
    rows = rows_of(picks, 6)
    rows.append([button(_("Back"), CostsButton(ticket_id, CostsMove.BACK))])
    return keyboard(rows)


def hours_markup(ticket_id: int, _: Translate) -> InlineKeyboardMarkup:
    """0.5 1 1.5 2 3 4 hours, and skip."""
    picks = [
        button(
            _("{hours} h").format(hours=quantity_text(Decimal(m) / 60)), HoursButton(ticket_id, m)
        )
        for m in HOURS_CHOICES
    ]
    rows = rows_of(picks, 3)
    rows.append([button(_("Skip"), CostsButton(ticket_id, CostsMove.NO_HOURS))])
    return keyboard(rows)


MATERIAL_NOT_READ = N_(
    "I could not read that. Type a material with its quantity and cost, like 水管 2米 30元 "
    "(a listed material needs no cost: 水龙头 2), or use the buttons."
)
