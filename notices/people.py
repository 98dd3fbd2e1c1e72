"""What people and roles are told and shown as buttons: a join request told to the directors
and the director's decision told to the stranger (both queued in the outbox), asking to join,
the decision's buttons, the invite menu, the /people list and the language choice."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, ReplyKeyboardRemove

from notices import outbox
from notices.callbacks import CallbackData
from notices.recipients import Markup, Message, tell, translator_for
from notices.render import button, esc, keyboard, role_label
from notices.services import Services
from school.i18n import N_
from school.profile import Post
from storage import people
from storage.models import JoinRequest, Person, Role

Translate = Callable[[str], str]


class JoinMove(enum.StrEnum):
    """A stranger asks to join; a director approves or declines the request."""

    ASK = "ask"
    APPROVE = "ok"
    DECLINE = "no"


@dataclass(frozen=True)
class JoinButton(CallbackData, prefix="join", version=2):
    move: JoinMove
    request_id: int  # 0 for ASK


class InviteChoice(enum.StrEnum):
    """The invite menu: a role, then (for staff) a post."""

    ROLE = "r"
    POST = "p"


@dataclass(frozen=True)
class InviteButton(CallbackData, prefix="inv", version=2):
    choice: InviteChoice
    value: str  # a role's value or a post's key (checked against the profile when pressed)


class PeopleMove(enum.StrEnum):
    """The /people list: turn a page, ask to deactivate someone, confirm it."""

    PAGE = "pg"
    DEACTIVATE = "off"
    CONFIRM = "offok"


@dataclass(frozen=True)
class PeopleButton(CallbackData, prefix="ppl", version=2):
    move: PeopleMove
    person_id: int  # 0 for PAGE
    page: int


@dataclass(frozen=True)
class LanguageButton(CallbackData, prefix="lang", version=2):
    language: str  # zh_CN or en (checked when pressed)


def ask_to_join_keyboard(_: Translate) -> InlineKeyboardMarkup:
    """Under the stranger's welcome."""
    return keyboard([[button(_("Ask to join as a teacher"), JoinButton(JoinMove.ASK, 0))]])


def join_request_keyboard(request_id: int, _: Translate) -> InlineKeyboardMarkup:
    """Under a join request sent to the directors."""
    return keyboard(
        [
            [
                button(_("Approve"), JoinButton(JoinMove.APPROVE, request_id)),
                button(_("Decline"), JoinButton(JoinMove.DECLINE, request_id)),
            ]
        ]
    )


def invite_roles_keyboard(_: Translate) -> InlineKeyboardMarkup:
    """/invite: whom to invite."""
    return keyboard(
        [
            [button(role_label(role, _), InviteButton(InviteChoice.ROLE, role.value))]
            for role in Role
        ]
    )


def invite_posts_keyboard(posts: Sequence[Post]) -> InlineKeyboardMarkup:
    """/invite for staff: which post, two to a row."""
    return keyboard(
        [
            [
                button(post.name, InviteButton(InviteChoice.POST, post.key))
                for post in posts[i : i + 2]
            ]
            for i in range(0, len(posts), 2)
        ]
    )


def language_keyboard() -> InlineKeyboardMarkup:
    """/lang: each language named in itself."""
    return keyboard(
        [[button("中文", LanguageButton("zh_CN")), button("English", LanguageButton("en"))]]
    )


async def tell_directors_of_request(
    session: AsyncSession, services: Services, request: JoinRequest
) -> int:
    """Queue the join request, with approve and decline buttons, for every active director;
    how many were told."""
    assert request.id is not None
    directors = await people.active_directors(session)
    request_id = request.id
    handle = f" (@{esc(request.username)})" if request.username else ""
    asks = N_("{name}{handle} asks to join as a teacher.")

    def message(t_: Translate) -> str:
        return t_(asks).format(name=esc(request.name), handle=handle)

    for director in directors:
        key = f"join:{request_id}:director:{director.id}"
        await tell(
            session, services, director, key, message, partial(join_request_keyboard, request_id)
        )
    return len(directors)


async def tell_join_decided(
    session: AsyncSession,
    services: Services,
    request: JoinRequest,
    person: Person | None,
    welcome: Message,
    menu: Markup,
) -> None:
    """Queue the director's decision for the stranger who asked, in the decision's transaction
    (so Telegram refusing it at first does not lose it). Approved (`person`, just registered):
    `welcome` with `menu`, their role's keyboard; declined: where to ask."""
    key = f"join:{request.id}:decided"
    if person is not None:
        await tell(session, services, person, key, welcome, menu)
        return
    declined = N_(
        "Your request to join was declined. Ask the logistics office if you think this is a "
        "mistake."
    )
    t_ = translator_for(None, services)  # not registered: the school's language
    await outbox.notify(session, services, key=key, chat_id=request.telegram_id, text=t_(declined))


async def tell_deactivated(session: AsyncSession, services: Services, person: Person) -> None:
    """The person hears their access is off, and their menu keyboard goes away."""
    off = N_(
        "The logistics office has switched off your access to this assistant. Your records "
        "stay; ask the office if this is a mistake."
    )
    key = f"person:{person.id}:deactivated:{person.deactivated_at}"
    await tell(session, services, person, key, lambda t_: t_(off), lambda _t: ReplyKeyboardRemove())
