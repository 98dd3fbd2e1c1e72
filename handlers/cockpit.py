"""/cockpit: a button that opens the cockpit (a Telegram Mini App served by the bot), and the
cockpit's menu button in each registered person's private chat.

Without HOUQIN_COCKPIT_URL the cockpit is off: a director is told how to turn it on, anyone
else that it is not on yet. What the page shows is decided on the server (cockpit.web).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    WebAppInfo,
)
from telegram.ext import CommandHandler

from handlers.common import private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.menu import publish_menu_button
from notices.render import esc
from notices.services import Services
from storage import cockpit_logins, people
from storage.models import Person, Role

PC_LINK_LIFETIME = timedelta(minutes=10)


def _how_to_turn_on(context: HouqinContext) -> str:
    _ = context._
    if context.person is not None and context.person.role == Role.DIRECTOR:
        return _(
            "The cockpit is off. Telegram opens it only from a public HTTPS address: put the "
            "school's reverse proxy in front of the bot, set HOUQIN_COCKPIT_URL to that address "
            "(and HOUQIN_COCKPIT_PORT to the port the proxy forwards to), then restart the bot. "
            "The README's Cockpit section has the details."
        )
    return _("The cockpit is not turned on at this school yet. Ask the logistics office.")


def opener(context: HouqinContext) -> InlineKeyboardMarkup | None:
    """The button that opens the cockpit (None while the cockpit is off)."""
    settings = context.services.settings
    if not settings.cockpit_on:
        return None
    button = InlineKeyboardButton(
        context._("Open the cockpit"), web_app=WebAppInfo(settings.cockpit_url + "/")
    )
    return InlineKeyboardMarkup([[button]])


async def offer_cockpit(update: Update, context: HouqinContext, person: Person) -> None:
    """Under the private /start greeting: the cockpit's button, for a person who has one,
    when the cockpit is on."""
    markup = opener(context)
    if markup is None or not person.active:  # as cockpit.views.has_cockpit
        return
    await reply(update, context, context._("Your cockpit, one press away:"), reply_markup=markup)


async def cockpit_command(update: Update, context: HouqinContext) -> None:
    """/cockpit: the director's Today board, staff's and teachers' own page, one press away."""
    person = await require_role(update, context, {Role.DIRECTOR, Role.STAFF, Role.TEACHER})
    if person is None:
        return
    _ = context._
    settings = context.services.settings
    if not private_chat(update):
        await reply(update, context, _("Send /cockpit to me in a private chat."))
        return
    if not settings.cockpit_on:
        await reply(update, context, _how_to_turn_on(context))
        return
    if context.args and context.args[0].lower() == "pc":
        await _pc_link(update, context, person)
        return
    text = (
        _("Today's board: open jobs, work logs, the inspection round and what waits for you.")
        if person.role == Role.DIRECTOR
        else _("Your jobs, work logs and score at a glance.")
        if person.role == Role.STAFF
        else _("Your repair requests at a glance.")
    )
    await reply(update, context, text, reply_markup=opener(context))
    await publish_menu_button(
        context.bot, person.telegram_id, context.language, settings.cockpit_url
    )


async def _pc_link(update: Update, context: HouqinContext, person: Person) -> None:
    """/cockpit pc (director): a one-time link for a browser outside Telegram."""
    _ = context._
    if person.role != Role.DIRECTOR:
        await reply(update, context, _("Only the logistics director can do that."))
        return
    services = context.services
    assert person.id is not None
    async with services.database.transaction() as session:
        token = await cockpit_logins.create_login(
            session, person_id=person.id, now=services.now(), lifetime=PC_LINK_LIFETIME
        )
    link = f"{services.settings.cockpit_url}/#login={token}"
    minutes = int(PC_LINK_LIFETIME.total_seconds() // 60)
    hours = f"{services.settings.cockpit_session_hours:g}"
    await reply(
        update,
        context,
        _(
            "A one-time link for a PC or the office's big screen: open it there within {minutes} "
            "minutes; it works once, and the page stays open for {hours} hours. Do not forward "
            "it.\n{link}"
        ).format(minutes=minutes, hours=hours, link=esc(link)),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def publish_menu_buttons(bot: Bot, services: Services) -> int:
    """At start-up, with the cockpit on: the menu button for every active person (people
    who join later get theirs when they register). Returns how many were set."""
    settings = services.settings
    if not settings.cockpit_on:
        return 0
    async with services.database.reading() as session:
        everyone = await people.list_people(session)
    default = settings.language.value
    await asyncio.gather(
        *(
            publish_menu_button(bot, p.telegram_id, p.language or default, settings.cockpit_url)
            for p in everyone
            if p.active
        )
    )
    return sum(1 for p in everyone if p.active)


def register(application: HouqinApp) -> None:
    """The /cockpit command."""
    application.add_handler(CommandHandler("cockpit", cockpit_command))
