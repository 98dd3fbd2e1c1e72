"""Run the real bot against the local Bot API sandbox in this event loop.

Used by the end-to-end tests, `houqin demo` and the benchmarks: the Application is the one
`houqin run` builds, polling the sandbox over HTTP; only the URLs and the clock differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from bot.app import build_application, on_startup
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices import outbox
from notices.services import Services

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member", "chat_member"]


def services_for_sandbox(services: Services, sandbox: BotApiSandbox) -> Services:
    """The same services with the token and Bot API URLs of the sandbox."""
    settings = services.settings.model_copy(
        update={
            "telegram_bot_token": sandbox.token,
            "telegram_base_url": sandbox.base_url,
            "telegram_base_file_url": sandbox.base_file_url,
        }
    )
    return replace(services, settings=settings)


@asynccontextmanager
async def running_application(
    services: Services, *, prepare: Callable[[HouqinApp], None] | None = None
) -> AsyncIterator[HouqinApp]:
    """Start the bot polling the Bot API server of its settings; stop it cleanly on exit.

    `prepare` may add handlers (or watch the application) before it initializes.
    """
    application = build_application(services)
    if prepare is not None:
        prepare(application)
    await application.initialize()
    await on_startup(application)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES
    )
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@asynccontextmanager
async def running_bot(
    services: Services,
    sandbox: BotApiSandbox,
    *,
    prepare: Callable[[HouqinApp], None] | None = None,
) -> AsyncIterator[HouqinApp]:
    """Start the bot polling the sandbox, which waits for it to be idle when settling.

    `prepare` may add handlers before the application initializes (tests use it).
    """

    def watched(application: HouqinApp) -> None:
        if prepare is not None:
            prepare(application)
        sandbox.watch_application(application)
        sandbox.extra_idle_checks.append(outbox.is_idle)

    try:
        async with running_application(
            services_for_sandbox(services, sandbox), prepare=watched
        ) as application:
            yield application
    finally:
        sandbox.extra_idle_checks.clear()
