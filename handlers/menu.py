"""The command table: one place that drives /help, the bot's command lists and the reply keyboard.

Feature modules add their rows here, so help, menus and Telegram's command list never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    KeyboardButton,
    ReplyKeyboardMarkup,
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
    Command("export", N_("Appraisal as Excel: /export 2026-10"), DIRECTOR),
    # People
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
    ),
    Command("unbind", N_("Unbind this group"), DIRECTOR, private=False, group=True),
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


def help_text(role: Role | None, _: Callable[[str], str]) -> str:
    """The /help text for a role (HTML)."""
    lines = [_("<b>What you can do</b>")]
    lines += [f"/{row.name} — {esc(_(row.description))}" for row in visible_commands(role)]
    group_rows = visible_commands(role, group=True)
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


def _bot_commands(role: Role | None, language: str, *, group: bool = False) -> list[BotCommand]:
    _ = translator(language)
    return [BotCommand(row.name, _(row.description)) for row in visible_commands(role, group=group)]


async def publish_commands(bot: Bot, default_language: str) -> None:
    """Set the command lists Telegram shows: per scope (private, groups) and language."""
    for language in (None, *LANGUAGES):
        language_code = None if language is None else language.split("_")[0]
        effective = language or default_language
        await bot.set_my_commands(
            _bot_commands(None, effective),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=language_code,
        )
        await bot.set_my_commands(
            _bot_commands(Role.DIRECTOR, effective, group=True),
            scope=BotCommandScopeAllGroupChats(),
            language_code=language_code,
        )


async def publish_commands_for(bot: Bot, telegram_id: int, role: Role, language: str) -> None:
    """Give one person the command list of their role in their private chat."""
    try:
        await bot.set_my_commands(
            _bot_commands(role, language), scope=BotCommandScopeChat(telegram_id)
        )
    except TelegramError:
        log.warning("could not set commands for %s", telegram_id, exc_info=True)
