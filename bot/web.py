"""The bot's one web server: the cockpit (when HOUQIN_COCKPIT_URL is set) and, in webhook
mode, Telegram's webhook on the same Starlette application and port.

The webhook follows python-telegram-bot's custom-webhook pattern: the update is checked
(Telegram's secret token header, compared in constant time; 403 otherwise), turned into an
`Update` and put on `application.update_queue`, which the application processes as it does
polled updates.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import Update
from telegram.ext import Updater

from bot.app import services_of
from bot.inbox import UpdateInbox
from cockpit.server import WebServer
from cockpit.web import build_app
from handlers.context import HouqinApp

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Webhook:
    """Take updates on a webhook: served at /telegram on listen:port, registered as `url`."""

    listen: str
    port: int
    url: str
    secret: str
    allowed_updates: tuple[str, ...]

    async def __call__(self, updater: Updater) -> None:
        """Once the server takes requests: tell Telegram where to send updates."""
        await updater.bot.set_webhook(
            url=self.url, secret_token=self.secret, allowed_updates=list(self.allowed_updates)
        )


def webhook_route(application: HouqinApp, secret: str, inbox: UpdateInbox | None) -> BaseRoute:
    """POST /telegram: a checked update onto the application's queue, or (several workers on
    one database) into the shared inbox, answered once it is committed there."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict):
                raise TypeError("an update is a JSON object")
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("webhook: an update that is not one was refused")
            return Response(status_code=400)
        if inbox is not None:
            await inbox.receive(data, update)
        else:
            await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(WEBHOOK_PATH, receive, methods=["POST"])


def web_server(
    application: HouqinApp, webhook: Webhook | None, inbox: UpdateInbox | None = None
) -> WebServer | None:
    """The server to run: the cockpit and/or the webhook; None when neither is wanted."""
    services = services_of(application)
    settings = services.settings
    if webhook is None and not settings.cockpit_on:
        return None
    extra = [webhook_route(application, webhook.secret, inbox)] if webhook is not None else []
    app = build_app(services, bot=application.bot, extra=extra, cockpit=settings.cockpit_on)
    if webhook is not None:
        names = "HOUQIN_WEBHOOK_LISTEN/HOUQIN_WEBHOOK_PORT"
        return WebServer(app, webhook.listen, webhook.port, settings=names)
    names = "HOUQIN_COCKPIT_LISTEN/HOUQIN_COCKPIT_PORT"
    return WebServer(app, settings.cockpit_listen, settings.cockpit_port, settings=names)
