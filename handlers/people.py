"""/start, invites, join requests, /whoami, /people, /lang and /help."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import CallbackQuery, InlineKeyboardButton, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, MessageHandler

from actions import people as actions
from handlers.buttons import on_button
from handlers.cockpit import offer_cockpit
from handlers.common import private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.menu import (
    forget_commands_for,
    help_text,
    menu_filter,
    menu_keyboard,
    publish_commands_for,
)
from notices.people import (
    InviteButton,
    InviteChoice,
    JoinButton,
    JoinMove,
    LanguageButton,
    PeopleButton,
    PeopleMove,
    ask_to_join_keyboard,
    invite_posts_keyboard,
    invite_roles_keyboard,
    language_keyboard,
)
from notices.render import button, deep_link, edit_or_ignore, esc, keyboard, role_label
from notices.worklogs import duties_for
from school.i18n import LANGUAGES, N_, normalize_language
from school.profile import Post
from storage import people, post_duties
from storage.models import Person, Role

log = logging.getLogger(__name__)

Data = TypeVar("Data")


def director_button(
    handle: Callable[[Update, HouqinContext, Data], Awaitable[None]],
) -> Callable[[Update, HouqinContext, Data], Awaitable[None]]:
    """A button only a director may press: anyone else is told so (checked on the server for
    every press) and the handler is not called."""

    @functools.wraps(handle)
    async def pressed(update: Update, context: HouqinContext, data: Data) -> None:
        if await require_role(update, context, {Role.DIRECTOR}) is not None:
            await handle(update, context, data)

    return pressed


def _director_press(update: Update, context: HouqinContext) -> tuple[CallbackQuery, Person]:
    """In a `director_button` handler: the press and the director who made it."""
    query, director = update.callback_query, context.person
    assert query is not None and director is not None
    return query, director


PEOPLE_PAGE_SIZE = 10
INVITE_CODE_PATTERN = re.compile(r"^[A-Za-z0-9]{4,32}$")
# Why an invite code does not register the person (storage.people.InviteProblem's reasons).
INVITE_PROBLEMS = {
    "unknown": N_(
        "That invite code is not valid. Check the link, or ask the logistics office for a new one."
    ),
    "expired": N_("That invite link has expired. Ask the logistics office for a new one."),
    "used_up": N_(
        "That invite link has already been used. Ask the logistics office for a new one."
    ),
}


def _post_name(context: HouqinContext, post_key: str | None) -> str | None:
    if not post_key:
        return None
    post = _find_post(context, post_key)
    return post.name if post is not None else post_key


def _find_post(context: HouqinContext, post_key: str | None) -> Post | None:
    """The profile's post with this key; None when absent (e.g. removed from the profile)."""
    try:
        return context.services.profile.post(post_key) if post_key else None
    except KeyError:
        return None


def _describe(context: HouqinContext, person: Person) -> str:
    """ "王老师 · 教师" or "李师傅 · 后勤员工 · 水电工"."""
    parts = [esc(person.name), role_label(person.role, context._)]
    post = _post_name(context, person.post_key)
    if post:
        parts.append(esc(post))
    return " · ".join(parts)


def _invite_problem(reason: str, context: HouqinContext) -> str:
    """Why an invite code does not register the person, in their language."""
    message = INVITE_PROBLEMS[reason]
    return context._(message)


async def _greet(update: Update, context: HouqinContext, person: Person, greeting: str) -> None:
    """Greet a registered person (`greeting` has {name} and {who}) with what their role can do
    and their menu."""
    _ = context._
    role = Role(person.role)
    await reply(
        update,
        context,
        greeting.format(name=esc(person.name), who=_describe(context, person))
        + "\n\n"
        + help_text(role, _),
        reply_markup=menu_keyboard(role, _),
    )
    await offer_cockpit(update, context, person)


async def start(update: Update, context: HouqinContext) -> None:
    """/start [payload]: welcome, redeem an invite, or tell a stranger how to join."""
    _ = context._
    if not private_chat(update):
        await reply(
            update,
            context,
            _("Hello! Talk to me in a private chat; /help in a group shows the group commands."),
        )
        return
    # Feature deep links (t.me/BOT?start=report, ...) have their own /start handlers,
    # registered before this one; any other payload is an invite code.
    user = update.effective_user
    assert user is not None
    await actions.chat_opened(context.bot, context.services, user.id)
    payload = context.args[0] if context.args else ""
    if payload:
        await _redeem(update, context, payload)
        return
    person = context.person
    if person is not None:
        await _greet(update, context, person, _("Welcome back, {name}! You are: {who}."))
        return
    await reply(
        update,
        context,
        _(
            "Hello! I am the logistics assistant of {school}: repairs, work logs, inspections "
            "and appraisals.\n\nYou are not registered yet. Ask the logistics office for an "
            "invite link, or, if you are a teacher, ask to join below."
        ).format(school=esc(context.services.profile.school.name)),
        reply_markup=ask_to_join_keyboard(_),
    )


async def _redeem(update: Update, context: HouqinContext, code: str) -> None:
    _ = context._
    user = update.effective_user
    assert user is not None
    if not INVITE_CODE_PATTERN.match(code):
        await reply(update, context, _invite_problem("unknown", context))
        return
    services = context.services
    try:
        async with services.database.transaction() as session:
            registration = await people.redeem_invite(
                session,
                code=code,
                telegram_id=user.id,
                telegram_name=user.full_name,
                username=user.username,
                now=services.now(),
            )
    except people.InviteProblem as problem:
        if problem.reason == "registered" and context.person is not None:
            await reply(
                update,
                context,
                _(
                    "You are registered already as: {who}. This invite link is for a new "
                    "colleague; opening it changes nothing for you, and it stays unused."
                ).format(who=_describe(context, context.person)),
            )
            return
        await reply(update, context, _invite_problem(problem.reason, context))
        return
    person = registration.person
    context.person = person
    if person.language:
        context.set_language(person.language)
    _ = context._
    log.info("registered %s (%s) as %s", person.name, person.telegram_id, person.role)
    await _greet(update, context, person, _("Welcome, {name}! You are registered as: {who}."))
    await publish_commands_for(
        context.bot,
        person.telegram_id,
        Role(person.role),
        context.language,
        cockpit_url=context.services.settings.cockpit_url,
    )


async def help_command(update: Update, context: HouqinContext) -> None:
    """/help: what the current role can do."""
    role = Role(context.person.role) if context.person else None
    await reply(
        update,
        context,
        help_text(role, context._, group=not private_chat(update)),
        reply_markup=menu_keyboard(role, context._) if private_chat(update) else None,
    )


async def whoami(update: Update, context: HouqinContext) -> None:
    """/whoami: one's name, role, post and its duties."""
    _ = context._
    person = context.person
    if person is None:
        await reply(
            update, context, _("You are not registered yet. Send /start to see how to join.")
        )
        return
    lines = [_("You are: {who}.").format(who=_describe(context, person))]
    approved = None
    if person.role == Role.STAFF and person.id is not None:
        async with context.services.database.reading() as session:
            approved = await post_duties.approved_duties(session, person.id)
    duties, own = duties_for(context.services, person, approved)
    if duties:
        lines.append("")
        lines.append(_("<b>Your post duties</b>") if own else _("<b>Post duties</b>"))
        lines += [f"• {esc(duty)}" for duty in duties]
    await reply(update, context, "\n".join(lines))


# --- joining as a teacher -------------------------------------------------------------------


async def ask_to_join(update: Update, context: HouqinContext, data: JoinButton) -> None:
    """A stranger pressed "ask to join": file the request and tell the directors."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    _ = context._
    if context.person is not None:
        await query.answer(_("You are already registered."), show_alert=True)
        return
    created = await actions.ask_to_join(
        context.bot,
        context.services,
        telegram_id=user.id,
        name=user.full_name,
        username=user.username,
    )
    if not created:
        await query.answer(_("Your request is already waiting for the director."), show_alert=True)
        return
    await query.answer()
    await edit_or_ignore(query.edit_message_reply_markup(None))
    await context.bot.send_message(
        user.id,
        _("Your request has been sent. I will tell you when the director has decided."),
    )


def _teacher_welcome(t_: Callable[[str], str]) -> str:
    return (
        t_("Your request was approved. Welcome! You are registered as a teacher.")
        + "\n\n"
        + help_text(Role.TEACHER, t_)
    )


@director_button
async def decide_join(update: Update, context: HouqinContext, data: JoinButton) -> None:
    """A director pressed approve or decline on a join request (a forged id, or a request
    gone, is told so). The stranger hears the decision through the outbox."""
    query, director = _director_press(update, context)
    _ = context._
    services = context.services
    try:
        decision = await actions.decide_join(
            context.bot,
            services,
            request_id=data.request_id,
            approve=data.move == JoinMove.APPROVE,
            director=director,
            welcome=_teacher_welcome,
            menu=functools.partial(menu_keyboard, Role.TEACHER),
        )
    except LookupError:
        await query.answer(_("This request no longer exists."), show_alert=True)
        return
    request = decision.request
    outcome = _("approved") if request.status == "approved" else _("declined")
    if not decision.changed:
        await query.answer(
            _("Already handled: {outcome}.").format(outcome=outcome), show_alert=True
        )
        return
    await query.answer(outcome)
    await edit_or_ignore(
        query.edit_message_text(
            _("{name} asks to join as a teacher: {outcome} by {director}.").format(
                name=esc(request.name), outcome=outcome, director=esc(director.name)
            )
        )
    )
    if decision.person is not None:
        try:
            await publish_commands_for(
                context.bot,
                request.telegram_id,
                Role.TEACHER,
                services.settings.language.value,
                cockpit_url=services.settings.cockpit_url,
            )
        except TelegramError:
            log.warning("could not set the commands of %s", request.telegram_id)


# --- invites --------------------------------------------------------------------------------


async def invite_command(update: Update, context: HouqinContext) -> None:
    """/invite (director): choose a role, then a post for staff, and get a link."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    if not private_chat(update):
        await reply(update, context, _("Make invites in a private chat with me, not in a group."))
        return
    await reply(update, context, _("Invite whom?"), reply_markup=invite_roles_keyboard(_))


@director_button
async def invite_pick(update: Update, context: HouqinContext, data: InviteButton) -> None:
    """The director picked a role (and for staff, a post): make the invite."""
    query, director = _director_press(update, context)
    _ = context._
    profile = context.services.profile
    kind, value = data.choice, data.value
    if kind == InviteChoice.ROLE and value == Role.STAFF.value:
        await query.answer()
        await edit_or_ignore(
            query.edit_message_text(
                _("Which post?"), reply_markup=invite_posts_keyboard(profile.posts)
            )
        )
        return
    if kind == InviteChoice.ROLE and value in {r.value for r in Role}:
        role, post_key = Role(value), None
    elif kind == InviteChoice.POST and _find_post(context, value) is not None:
        role, post_key = Role.STAFF, value
    else:
        await query.answer(_("This button has expired. Send /invite again."), show_alert=True)
        return
    services = context.services
    async with services.database.transaction() as session:
        invite = await people.create_invite(
            session, role=role, post_key=post_key, now=services.now(), created_by=director
        )
    await query.answer()
    who = role_label(role, _)
    if post_key:
        who += f" · {esc(_post_name(context, post_key))}"
    link = deep_link(context.bot.username, invite.code)
    await query.edit_message_text(
        _(
            "Invite for: {who}\nValid for one person until {expires}.\n\n{link}\n\nForward this "
            "link; opening it registers the person. Code: <code>{code}</code>"
        ).format(
            who=who,
            expires=invite.expires_at.astimezone(services.settings.tz).strftime("%Y-%m-%d %H:%M"),
            link=esc(link),
            code=invite.code,
        )
    )


# --- people ---------------------------------------------------------------------------------


async def _people_page(
    context: HouqinContext, page: int
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    _ = context._
    async with context.services.database.transaction() as session:
        everyone = list(await people.list_people(session))
    pages = max(1, -(-len(everyone) // PEOPLE_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = everyone[page * PEOPLE_PAGE_SIZE : (page + 1) * PEOPLE_PAGE_SIZE]
    lines = [
        _("<b>People</b> ({count}), page {page}/{pages}").format(
            count=len(everyone), page=page + 1, pages=pages
        )
    ]
    rows: list[list[InlineKeyboardButton]] = []
    for index, person in enumerate(shown, start=page * PEOPLE_PAGE_SIZE + 1):
        lines.append(f"{index}. {_describe(context, person)}")
        viewer = context.person
        if viewer is not None and person.id is not None and person.id != viewer.id:
            rows.append(
                [
                    button(
                        _("Deactivate {index}. {name}").format(index=index, name=person.name[:20]),
                        PeopleButton(PeopleMove.DEACTIVATE, person.id, page),
                    )
                ]
            )
    nav = []
    if page > 0:
        nav.append(button("◀", PeopleButton(PeopleMove.PAGE, 0, page - 1)))
    if page < pages - 1:
        nav.append(button("▶", PeopleButton(PeopleMove.PAGE, 0, page + 1)))
    if nav:
        rows.append(nav)
    return "\n".join(lines), rows


async def people_command(update: Update, context: HouqinContext) -> None:
    """/people (director): everyone registered, with deactivate buttons."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    text, rows = await _people_page(context, 0)
    await reply(update, context, text, reply_markup=keyboard(rows))


@director_button
async def people_button(update: Update, context: HouqinContext, data: PeopleButton) -> None:
    """Paging, deactivation and its confirmation on the /people list."""
    query, director = _director_press(update, context)
    _ = context._
    services = context.services
    page = data.page
    if data.move == PeopleMove.PAGE:
        await query.answer()
        await _show_page(update, context, page)
        return
    async with services.database.reading() as session:
        person = await people.get_person(session, data.person_id)
    if person is None or not person.active:
        text = (
            _("Already deactivated.") if person is not None else _("Nobody registered has this id.")
        )
        await query.answer(text, show_alert=True)
        await _show_page(update, context, page)
        return
    if data.move == PeopleMove.DEACTIVATE:
        await query.answer()
        confirm = keyboard(
            [
                [
                    button(
                        _("Yes, deactivate"), PeopleButton(PeopleMove.CONFIRM, data.person_id, page)
                    ),
                    button(_("Back"), PeopleButton(PeopleMove.PAGE, 0, page)),
                ]
            ]
        )
        text = _(
            "Deactivate {who}? They will no longer be able to use the bot; their records stay."
        ).format(who=_describe(context, person))
        await edit_or_ignore(query.edit_message_text(text, reply_markup=confirm))
        return
    if person.id == director.id:
        await query.answer(_("You cannot deactivate yourself."), show_alert=True)
        return
    done = await actions.deactivate(context.bot, services, data.person_id)
    await forget_commands_for(context.bot, person.telegram_id, cockpit=services.settings.cockpit_on)
    await query.answer(_("{name} is deactivated.").format(name=person.name))
    await _show_page(update, context, page)
    if done.sent_back:
        numbers = "、".join(esc(ticket.number) for ticket in done.sent_back)
        text = _(
            "{name}'s unfinished repair jobs went back to the repair group to be taken again: "
            "{numbers}"
        ).format(name=esc(person.name), numbers=numbers)
        assert query.message is not None
        await context.bot.send_message(query.message.chat.id, text)


async def _show_page(update: Update, context: HouqinContext, page: int) -> None:
    """Edit the /people message to show a page of the list."""
    assert update.callback_query is not None
    text, rows = await _people_page(context, page)
    await edit_or_ignore(update.callback_query.edit_message_text(text, reply_markup=keyboard(rows)))


# --- language -------------------------------------------------------------------------------


async def lang_command(update: Update, context: HouqinContext) -> None:
    """/lang: switch between Chinese and English."""
    await reply(
        update, context, context._("Choose your language:"), reply_markup=language_keyboard()
    )


async def lang_pick(update: Update, context: HouqinContext, data: LanguageButton) -> None:
    """Store the chosen language for the person (or, for a stranger, in their user data)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    language = normalize_language(data.language)
    if language not in LANGUAGES:
        await query.answer()
        return
    async with context.services.database.transaction() as session:
        person = await people.set_language(session, update.effective_user.id, language)
    if context.user_data is not None:
        context.user_data["language"] = language
    context.set_language(language)
    _ = context._
    await query.answer()
    await edit_or_ignore(
        query.edit_message_text(
            _("Language set: English.") if language == "en" else _("Language set: Chinese.")
        )
    )
    role = Role(person.role) if person is not None and person.active else None
    keyboard_markup = menu_keyboard(role, _)
    if keyboard_markup is not None:
        await context.bot.send_message(
            update.effective_user.id, _("Menu updated."), reply_markup=keyboard_markup
        )
    if role is not None:
        await publish_commands_for(
            context.bot,
            update.effective_user.id,
            role,
            language,
            cockpit_url=context.services.settings.cockpit_url,
        )


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("whoami", whoami))
    application.add_handler(MessageHandler(menu_filter("whoami"), whoami))
    application.add_handler(CommandHandler("invite", invite_command))
    application.add_handler(MessageHandler(menu_filter("invite"), invite_command))
    application.add_handler(CommandHandler("people", people_command))
    application.add_handler(MessageHandler(menu_filter("people"), people_command))
    application.add_handler(CommandHandler("lang", lang_command))
    application.add_handler(
        on_button(JoinButton, ask_to_join, when=lambda data: data.move == JoinMove.ASK)
    )
    application.add_handler(
        on_button(JoinButton, decide_join, when=lambda data: data.move != JoinMove.ASK)
    )
    application.add_handler(on_button(InviteButton, invite_pick))
    application.add_handler(on_button(PeopleButton, people_button))
    application.add_handler(on_button(LanguageButton, lang_pick))
