"""The buttons of repairs: their callback data (one codec, notices.callbacks) and the keyboards
built from the status table (storage.ticket_flow), so a card, a notice or /mytickets offers a
move exactly when the table allows it from the ticket's status."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from notices.callbacks import CallbackData
from notices.render import button, keyboard
from school.i18n import N_, Translate
from storage.models import Ticket
from storage.ticket_flow import FLOW, Move, Who, moves_from


@dataclass(frozen=True)
class TicketButton(CallbackData, prefix="tk", version=2):
    """A move on a ticket (接单, 指派, 开始维修, 维修完成, 延期, 转单, 退回, 验收, 返修, 撤销,
    催办, 同一问题)."""

    move: Move
    ticket_id: int


@dataclass(frozen=True)
class PlaceButton(CallbackData, prefix="tkpl", version=1):
    """📍 the repair history of a ticket's place (the crew and directors)."""

    ticket_id: int


@dataclass(frozen=True)
class AssignButton(CallbackData, prefix="tka", version=1):
    """The director's choice of who does a job."""

    ticket_id: int
    person_id: int


@dataclass(frozen=True)
class RatingButton(CallbackData, prefix="tkr", version=1):
    """The reporter's 1-5 stars when accepting a repair."""

    ticket_id: int
    stars: int


class Result(enum.StrEnum):
    """维修结果."""

    FIXED = "fixed"
    REPLACED = "replaced"
    UNFIXABLE = "unfixable"


RESULT_LABELS = {
    Result.FIXED: N_("Fixed"),
    Result.REPLACED: N_("Replaced with a new one"),
    Result.UNFIXABLE: N_("Cannot be fixed"),
}


@dataclass(frozen=True)
class ResultButton(CallbackData, prefix="tkres", version=1):
    """The result of a repair, in the act form."""

    ticket_id: int
    result: Result


@dataclass(frozen=True)
class DeferDateButton(CallbackData, prefix="tkd", version=1):
    """A new date for a deferred job, in the act form."""

    ticket_id: int
    day: date


@dataclass(frozen=True)
class SkipButton(CallbackData, prefix="tks", version=1):
    """Skip the optional photo, note or comment of the act form."""

    ticket_id: int


@dataclass(frozen=True)
class TicketListButton(CallbackData, prefix="tkl", version=1):
    """/tickets: only mine, or all."""

    mine: bool


class FormChoice(enum.StrEnum):
    """A choice in the report form."""

    CATEGORY = "c"
    BUILDING = "b"
    FLOOR = "fl"
    ROOM = "rm"
    JOIN = "join"
    NEW = "new"
    PHOTOS_DONE = "pdone"
    URGENCY = "u"
    SUBMIT = "submit"
    EDIT = "edit"
    CANCEL = "cancel"
    CHANGE = "e"  # which part to change


@dataclass(frozen=True)
class ReportFormButton(CallbackData, prefix="tkf", version=2):
    """A button of the report form; `value` is the chosen key or index ("" when none)."""

    choice: FormChoice
    value: str = ""


def form_button(text: str, choice: FormChoice, value: object = "") -> InlineKeyboardButton:
    """A button of the report form."""
    return button(text, ReportFormButton(choice, str(value)))


# --- keyboards from the table ------------------------------------------------------------------

MOVE_LABELS = {
    Move.TAKE: N_("Take"),
    Move.ASSIGN: N_("Assign"),
    Move.REJECT: N_("Return"),
    Move.START: N_("Start repair"),
    Move.COMPLETE: N_("Repair done"),
    Move.DEFER: N_("Ask to defer"),
    Move.RELEASE: N_("Hand over"),
    Move.ACCEPT: N_("Accept"),
    Move.REWORK: N_("Rework"),
}
MY_TICKET_LABELS = {
    Move.CANCEL: N_("Withdraw {seq}"),
    Move.NUDGE: N_("Nudge {seq}"),
    Move.ACCEPT: N_("Accept {seq}"),
    Move.REWORK: N_("Rework {seq}"),
}
# The card's buttons for the crew, row by row; each shown when the table allows its move from
# the ticket's status.
CARD_LAYOUT: tuple[tuple[Move, ...], ...] = (
    (Move.TAKE, Move.ASSIGN, Move.REJECT),
    (Move.START, Move.COMPLETE),
    (Move.DEFER, Move.RELEASE),
)
# On a held job, 转单 is one button: the holder hands it back (RELEASE), a director picks the
# next person (ASSIGN).
HAND_OVER = {Move.RELEASE: Move.ASSIGN}


def card_moves(status: str) -> list[list[Move]]:
    """The moves a ticket's card offers in this status, row by row."""
    covered = {merged for shown, merged in HAND_OVER.items() if status in FLOW[shown].from_states}
    rows = [
        [m for m in row if status in FLOW[m].from_states and m not in covered]
        for row in CARD_LAYOUT
    ]
    return [row for row in rows if row]


def reporter_moves(status: str) -> list[Move]:
    """The reporter's moves in this status (/mytickets, the 'repaired' notice)."""
    return [m for m in moves_from(status) if FLOW[m].who == Who.REPORTER]


def pressed_move(shown: Move, *, director: bool) -> Move:
    """The move a press of a card button makes for the presser."""
    return HAND_OVER.get(shown, shown) if director else shown


def offered_to_reporter_on_notice(status: str) -> list[Move]:
    """The buttons under the reporter's 'repaired, please check' notice."""
    return [m for m in reporter_moves(status) if m in MOVE_LABELS]


def card_markup(ticket: Ticket, _: Translate) -> InlineKeyboardMarkup | None:
    """The handling buttons a card shows for the ticket's status, and 📍 its place's history."""
    assert ticket.id is not None
    rows = [
        [button(_(MOVE_LABELS[m]), TicketButton(m, ticket.id)) for m in row]
        for row in card_moves(ticket.status)
    ]
    rows.append([button(_("📍 Place history"), PlaceButton(ticket.id))])
    return keyboard(rows)


def reporter_markup(ticket: Ticket, _: Translate) -> InlineKeyboardMarkup:
    """Accept / rework under the reporter's 'repaired' notice."""
    assert ticket.id is not None
    moves = offered_to_reporter_on_notice(ticket.status)
    return keyboard([[button(_(MOVE_LABELS[m]), TicketButton(m, ticket.id)) for m in moves]])


def my_ticket_buttons(ticket: Ticket, seq: str, _: Translate) -> list[InlineKeyboardButton]:
    """/mytickets: the reporter's buttons for one of their tickets."""
    assert ticket.id is not None
    return [
        button(_(MY_TICKET_LABELS[m]).format(seq=seq), TicketButton(m, ticket.id))
        for m in reporter_moves(ticket.status)
        if m in MY_TICKET_LABELS
    ]


def rows_of(
    buttons: Sequence[InlineKeyboardButton], per_row: int
) -> list[list[InlineKeyboardButton]]:
    """Buttons in rows of `per_row`."""
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
