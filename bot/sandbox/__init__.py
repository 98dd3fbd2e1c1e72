"""A local Telegram Bot API sandbox for tests and demos."""

from bot.sandbox.actors import SandboxGroup, SandboxUser
from bot.sandbox.models import CallbackAnswer, Event, MessageVersion, SentMessage
from bot.sandbox.server import BotApiSandbox, serve_forever
from bot.sandbox.spec import BotApiSpec, html_to_plain
from bot.sandbox.transcript import describe_message, format_event

__all__ = [
    "BotApiSandbox",
    "BotApiSpec",
    "CallbackAnswer",
    "Event",
    "MessageVersion",
    "SandboxGroup",
    "SandboxUser",
    "SentMessage",
    "describe_message",
    "format_event",
    "html_to_plain",
    "serve_forever",
]
