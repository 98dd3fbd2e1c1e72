"""The command table: one place that drives /help, the bot's command lists and the reply keyboard.

Feature modules add their rows here, so help, menus and Telegram's command list never disagree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    KeyboardButton,
    MenuButtonDefault,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from telegram.error import TelegramError
from telegram.ext import filters

from notices.render import esc
from school.i18n import LANGUAGES, N_, translator
from storage.models import Role

log = logging.getLogger(__name__)

EVERYONE: frozenset[Role | None] = frozenset({None, Role.DIRECTOR, Role.STAFF, Role.TEACHER})
REGISTERED: frozenset[Role | None] = frozenset({Role.DIRECTOR, Role.STAFF, Role.TEACHER})
DIRECTOR: frozenset[Role | None] = frozenset({Role.DIRECTOR})
STAFF: frozenset[Role | None] = frozenset({Role.STAFF})
CREW: frozenset[Role | None] = frozenset({Role.STAFF, Role.DIRECTOR})


@dataclass(frozen=True)
class Command:
    """A command: who sees it, where it works, and its reply-keyboard label if any."""

    name: str
    description: str
    roles: frozenset[Role | None]
    private: bool = True
    group: bool = False
    menu_label: str | None = None
    admins: bool = False  # in groups, listed for the group's administrators only


COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Start, or show the menu again"), EVERYONE),
    Command("help", N_("What I can do for you"), EVERYONE, group=True),
    # Repairs (报修)
    Command(
        "report",
        N_("Report a fault: /report or /report <what and where>"),
        REGISTERED,
        group=True,
        menu_label=N_("🔧 Report a fault"),
    ),
    Command("mytickets", N_("My repair requests"), REGISTERED, menu_label=N_("📋 My requests")),
    Command("tickets", N_("Open repair jobs"), CREW, menu_label=N_("🛠 Repair jobs")),
    Command(
        "stats",
        N_("Repair numbers of a month: /stats [2026-11]"),
        DIRECTOR,
        group=True,
    ),
    Command("stickers", N_("QR stickers to report at a place: /stickers [building]"), DIRECTOR),
    Command("place", N_("Repair history of a place: /place 教学楼302"), CREW),
    # Meetings and receptions (会务与接待)
    Command(
        "service",
        N_("Ask for a meeting, reception or activity to be served"),
        REGISTERED,
        menu_label=N_("🗓 Meeting service"),
    ),
    Command("meetings", N_("Today's and this week's bookings by venue"), REGISTERED),
    # Work logs (工作日志)
    Command("log", N_("Write today's work log"), STAFF, menu_label=N_("📝 Work log")),
    Command("mylogs", N_("My recent work logs"), STAFF),
    Command("duties", N_("My post duties (draft for approval)"), STAFF),
    Command(
        "logs",
        N_("Work logs: /logs [date] or /logs <name>"),
        DIRECTOR,
        menu_label=N_("📒 Work logs"),
    ),
    Command("leave", N_("Record leave: /leave <name> <from> <to>"), DIRECTOR),
    Command("ledger", N_("Work log ledger as Excel: /ledger <from> <to>"), DIRECTOR),
    # Inspections (检查)
    Command(
        "inspections", N_("Inspection rounds and results"), CREW, menu_label=N_("🔍 Inspections")
    ),
    # Saving water and power (节约)
    Command("readings", N_("Enter meter readings (water, power, gas)"), CREW),
    # The semester work plan (学期工作计划)
    Command("plan", N_("The semester plan by status; /plan add (director)"), CREW),
    # Appraisal (考评)
    Command("myscore", N_("My appraisal: /myscore [2026-10]"), STAFF, menu_label=N_("📊 My score")),
    Command("rate", N_("Give the leader's scores for a month"), DIRECTOR),
    Command("bonus", N_("Bonus: /bonus <name> +2 <reason>"), DIRECTOR),
    Command("deduct", N_("Deduction: /deduct <name> 3 <reason>"), DIRECTOR),
    Command("incident", N_("Record a safety incident: /incident <name> <reason>"), DIRECTOR),
    Command(
        "appraisal",
        N_("Appraisal: /appraisal preview|publish 2026-10"),
        DIRECTOR,
        menu_label=N_("🏆 Appraisal"),
    ),
    Command(
        "export",
        N_("Excel: /export 2026-10 (appraisal), /export tickets <from> <to> (repairs)"),
        DIRECTOR,
    ),
    # People
    Command(
        "cockpit",
        N_("The cockpit: today's board in a web page (/cockpit pc: for a PC)"),
        REGISTERED,
    ),
    Command("whoami", N_("My role and post"), REGISTERED, menu_label=N_("👤 Me")),
    Command("invite", N_("Make an invite link"), DIRECTOR, menu_label=N_("➕ Invite")),
    Command("people", N_("People: list and deactivate"), DIRECTOR, menu_label=N_("👥 People")),
    Command("lang", N_("Language: 中文 / English"), EVERYONE),
    Command("cancel", N_("Leave the current form"), EVERYONE),
    Command(
        "bind",
        N_("Bind this group: repair, staff, teachers or leaders"),
        DIRECTOR,
        private=False,
        group=True,
        admins=True,
    ),
    Command("unbind", N_("Unbind this group"), DIRECTOR, private=False, group=True, admins=True),
)


def command(name: str) -> Command:
    """The table row of a command."""
    for row in COMMANDS:
        if row.name == name:
            return row
    raise KeyError(name)


def visible_commands(role: Role | None, *, group: bool = False) -> list[Command]:
    """Commands a role sees, in private chats or in groups."""
    return [row for row in COMMANDS if role in row.roles and (row.group if group else row.private)]


def help_text(role: Role | None, _: Callable[[str], str], *, group: bool = False) -> str:
    """The /help text for a role (HTML): in a group, what works there (the rest is in the
    private chat); in the private chat, everything, and a director's group commands."""
    group_rows = visible_commands(role, group=True)
    if group:
        lines = [_("<b>In this group</b>")]
        lines += [f"/{row.name} — {esc(_(row.description))}" for row in group_rows]
        lines += ["", _("Everything else works in a private chat with me: /help there.")]
        return "\n".join(lines)
    lines = [_("<b>What you can do</b>")]
    lines += [f"/{row.name} — {esc(_(row.description))}" for row in visible_commands(role)]
    if role == Role.DIRECTOR and group_rows:
        lines.append("")
        lines.append(_("<b>In a group</b>"))
        lines += [f"/{row.name} — {esc(_(row.description))}" for row in group_rows]
    return "\n".join(lines)


def menu_keyboard(role: Role | None, _: Callable[[str], str]) -> ReplyKeyboardMarkup | None:
    """The reply keyboard for a role's private chat, two buttons a row."""
    labels = [_(row.menu_label) for row in visible_commands(role) if row.menu_label]
    if not labels:
        return None
    rows = [
        [KeyboardButton(label) for label in labels[i : i + 2]] for i in range(0, len(labels), 2)
    ]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


def menu_filter(name: str) -> filters.BaseFilter:
    """Matches a press of the command's reply-keyboard button, in any language."""
    label = command(name).menu_label
    if label is None:
        raise ValueError(f"/{name} has no menu button")
    texts = sorted({translator(language)(label) for language in LANGUAGES})
    return filters.ChatType.PRIVATE & filters.Text(texts)


def _bot_commands(role: Role | None, language: str) -> list[BotCommand]:
    _ = translator(language)
    return [BotCommand(row.name, _(row.description)) for row in visible_commands(role)]


def _group_commands(language: str, *, admins: bool) -> list[BotCommand]:
    """What groups list: for everyone, or (with /bind, /unbind) for the administrators."""
    _ = translator(language)
    rows = [row for row in COMMANDS if row.group and (admins or not row.admins)]
    return [BotCommand(row.name, _(row.description)) for row in rows]


# What Telegram shows about the bot: on its profile and before a chat starts (≤ 512 characters),
# and when it is shared or found (≤ 120).
DESCRIPTION = N_(
    "The logistics assistant of {school}: report a fault with a photo and follow its repair, "
    "write the daily work log, walk inspection rounds, and see the monthly appraisal. "
    "Press Start; staff and teachers get an invite link from the logistics office."
)
SHORT_DESCRIPTION = N_("{school} logistics: repairs, work logs, inspections, appraisal.")


async def publish_commands(bot: Bot, default_language: str, school: str) -> None:
    """Set what Telegram shows of the bot, per language: the command lists (private chats,
    groups, group administrators) and the descriptions. The calls go out together, so
    start-up does not wait for them one by one."""
    calls = []
    for language in (None, *LANGUAGES):
        code = None if language is None else language.split("_")[0]
        effective = language or default_language
        _ = translator(effective)
        calls += [
            bot.set_my_commands(
                _bot_commands(None, effective),
                scope=BotCommandScopeAllPrivateChats(),
                language_code=code,
            ),
            bot.set_my_commands(
                _group_commands(effective, admins=False),
                scope=BotCommandScopeAllGroupChats(),
                language_code=code,
            ),
            bot.set_my_commands(
                _group_commands(effective, admins=True),
                scope=BotCommandScopeAllChatAdministrators(),
                language_code=code,
            ),
            bot.set_my_description(_(DESCRIPTION).format(school=school)[:512], language_code=code),
            bot.set_my_short_description(
                _(SHORT_DESCRIPTION).format(school=school)[:120], language_code=code
            ),
        ]
    await asyncio.gather(*calls)


async def publish_commands_for(
    bot: Bot, telegram_id: int, role: Role, language: str, *, cockpit_url: str = ""
) -> None:
    """Give one person the command list of their role in their private chat, and the
    cockpit's menu button when the cockpit is on (every registered role has a view)."""
    try:
        await bot.set_my_commands(
            _bot_commands(role, language), scope=BotCommandScopeChat(telegram_id)
        )
    except TelegramError:
        log.warning("could not set commands for %s", telegram_id, exc_info=True)
    if cockpit_url:
        await publish_menu_button(bot, telegram_id, language, cockpit_url)


COCKPIT_BUTTON = N_("Cockpit")


def cockpit_button(cockpit_url: str, language: str) -> MenuButtonWebApp:
    """The chat's menu button that opens the cockpit."""
    _ = translator(language)
    return MenuButtonWebApp(_(COCKPIT_BUTTON), WebAppInfo(cockpit_url + "/"))


async def publish_menu_button(bot: Bot, telegram_id: int, language: str, cockpit_url: str) -> None:
    """The cockpit's menu button in one person's private chat."""
    try:
        await bot.set_chat_menu_button(telegram_id, cockpit_button(cockpit_url, language))
    except TelegramError:
        log.warning("could not set the menu button of %s", telegram_id, exc_info=True)


async def forget_commands_for(bot: Bot, telegram_id: int, *, cockpit: bool = False) -> None:
    """A deactivated person's private chat shows the list for strangers again (and loses the
    cockpit's menu button)."""
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(telegram_id))
        if cockpit:
            await bot.set_chat_menu_button(telegram_id, MenuButtonDefault())
    except TelegramError:
        log.warning("could not reset the commands of %s", telegram_id, exc_info=True)
