"""A local Telegram Bot API sandbox for tests and demos."""

from devtools.sandbox.actors import SandboxGroup, SandboxUser
from devtools.sandbox.models import CallbackAnswer, Event, MessageVersion, SentMessage
from devtools.sandbox.server import BotApiSandbox, serve_forever
from devtools.sandbox.spec import BotApiSpec, html_to_plain
from devtools.sandbox.transcript import describe_message, format_event

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
