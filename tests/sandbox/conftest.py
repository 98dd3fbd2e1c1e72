"""Fixtures: a Bot API sandbox and a real python-telegram-bot Application polling it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from devtools.sandbox import BotApiSandbox

Ctx = ContextTypes.DEFAULT_TYPE


async def _start(update: Update, context: Ctx) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("接单", callback_data="take"),
                InlineKeyboardButton("退回", callback_data="back"),
            ],
            [InlineKeyboardButton("说明", url="https://example.org/help")],
        ]
    )
    payload = " ".join(context.args or [])
    await update.effective_message.reply_text(f"欢迎 {payload}".strip(), reply_markup=keyboard)


async def _menu(update: Update, context: Ctx) -> None:
    assert update.effective_message is not None
    markup = ReplyKeyboardMarkup([["我要报修", "写日志"]], resize_keyboard=True)
    await update.effective_message.reply_text("请选择", reply_markup=markup)


async def _html(update: Update, context: Ctx) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        "<b>粗体</b> &amp; <i>斜体</i>", parse_mode=ParseMode.HTML
    )


async def _whoami(update: Update, context: Ctx) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    chat = update.effective_chat
    assert chat is not None
    await update.effective_message.reply_text(f"id={update.effective_user.id} chat={chat.type}")


async def _on_button(update: Update, context: Ctx) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(text=f"已处理 {query.data}", show_alert=query.data == "back")
    await query.edit_message_text(f"已接单: {query.data}")


async def _on_photo(update: Update, context: Ctx) -> None:
    message = update.effective_message
    assert message is not None and message.photo
    file = await message.photo[-1].get_file()
    data = await file.download_as_bytearray()
    await message.reply_text(f"收到图片 {len(data)} 字节 {bytes(data[:2]).hex()}")


async def _echo(update: Update, context: Ctx) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_text(message.text)


async def _on_my_chat_member(update: Update, context: Ctx) -> None:
    change = update.my_chat_member
    assert change is not None
    context.bot_data.setdefault("member_changes", []).append(
        (change.chat.id, change.old_chat_member.status, change.new_chat_member.status)
    )


async def _on_error(update: object, context: Ctx) -> None:
    context.bot_data.setdefault("errors", []).append(context.error)


def build_app(sandbox: BotApiSandbox) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the test Application against the sandbox."""
    app = (
        ApplicationBuilder()
        .token(sandbox.token)
        .base_url(sandbox.base_url)
        .base_file_url(sandbox.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("menu", _menu))
    app.add_handler(CommandHandler("html", _html))
    app.add_handler(CommandHandler("whoami", _whoami))
    app.add_handler(CallbackQueryHandler(_on_button))
    app.add_handler(MessageHandler(filters.PHOTO, _on_photo))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    app.add_handler(ChatMemberHandler(_on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(_on_error)
    return app


@pytest.fixture
async def sandbox() -> AsyncIterator[BotApiSandbox]:
    """A running sandbox."""
    async with BotApiSandbox() as sb:
        yield sb


@pytest.fixture
async def app(
    sandbox: BotApiSandbox,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A real Application polling the sandbox."""
    application = build_app(sandbox)
    sandbox.watch_application(application)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


def errors(app: Application[Any, Any, Any, Any, Any, Any]) -> list[TelegramError]:
    """Errors collected by the test error handler."""
    return list(app.bot_data.get("errors", []))
