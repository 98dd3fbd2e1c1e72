"""The bot process's lifecycle: start-up, the schedule, and a shutdown that repeats nothing.

`serve()` is `houqin run`: it starts the bot, waits for SIGTERM or SIGINT, and stops it.

Start-up, in order: drop the saved state of conversations no handler has any more (those of
earlier releases); initialize (getMe, the saved forms); remember the bot's username, make the
notifications a killed run left in flight due again (`notices.outbox.recover`) and publish the
command lists; start the application and its JobQueue with every scheduled job; start the
web server (bot.web: the cockpit when HOUQIN_COCKPIT_URL is set, the webhook in webhook mode;
uvicorn in this event loop) and give every registered person the cockpit's menu button; take
updates (long polling, or register the webhook now that the server takes it). Only then are
the jobs caught up (`scheduler.jobs.catch_up`): an occurrence missed while the bot was down
runs once, however long the start took. The timer never drops an occurrence for being late
either: what is due is worked out from the clock and the database's claims
(`scheduler.jobs`), not from when the timer fired.

Scale-out (several workers on one PostgreSQL database, bot.leader): every worker installs the
schedule, but a firing, the outbox's periodic pass and the catch-up run only on the leader; the
catch-up runs when a worker becomes the leader (at start-up once updates are taken, or when it
takes over from a leader that died). A worker that does not lead hands its deliveries to the
leader (outbox.send_elsewhere) from before the first update.

Shutdown, in order: stop taking updates (polling, or the web server: the cockpit and the
webhook; open requests finish); let the job being caught up (the rest wait for the
next start), the updates already taken and the running jobs finish; background deliveries
finish the message being sent and record it, and hand the rest back (they stay pending for
the next start); save form state; release the leadership (another worker takes over); close
the HTTP sessions. So SIGTERM never sends a notification twice. Only a kill (SIGKILL, power
loss) can repeat the one message that was being sent at that instant (see notices.outbox).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from telegram.ext import ConversationHandler, Updater

from bot.app import services_of
from bot.inbox import UpdateInbox
from bot.leader import Leadership
from bot.persistence import DatabasePersistence
from bot.web import Webhook, web_server
from cockpit.server import WebServer
from handlers.cockpit import publish_menu_buttons
from handlers.context import HouqinApp, HouqinContext
from handlers.menu import publish_commands
from notices import outbox
from scheduler import jobs as schedule
from storage import bot_facts

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member", "chat_member"]
OUTBOX_INTERVAL = timedelta(seconds=5)
# How long shutdown waits for background deliveries to finish the message being sent; a
# request to the Bot API ends well within it (its time-outs add up to 25 s).
DRAIN_TIMEOUT = 60.0

Receive = Callable[[Updater], Awaitable[Any]]


def polling(*, poll_interval: float = 0.0, timeout: float = 10.0) -> Receive:
    """Take updates by long polling (getUpdates)."""

    async def start(updater: Updater) -> None:
        await updater.start_polling(
            poll_interval=poll_interval,
            timeout=timedelta(seconds=timeout),
            allowed_updates=ALLOWED_UPDATES,
        )

    return start


def webhook(*, listen: str, port: int, url: str, secret: str) -> Webhook:
    """Take updates on a webhook at `url` (served on listen:port under /telegram, by the same
    server as the cockpit: see bot.web)."""
    return Webhook(listen, port, url, secret, tuple(ALLOWED_UPDATES))


async def drop_unused_state(application: HouqinApp) -> list[str]:
    """Before initialize(): delete the saved conversation state no registered conversation
    uses (see DatabasePersistence.drop_unused)."""
    persistence = application.persistence
    if not isinstance(persistence, DatabasePersistence):
        return []
    conversations = {
        handler.name: set(handler.states)
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, ConversationHandler) and handler.persistent and handler.name
    }
    return await persistence.drop_unused(conversations)


async def on_startup(application: HouqinApp) -> None:
    """After initialize(): remember the bot's username, recover notifications left in flight,
    publish the command lists and descriptions."""
    services = services_of(application)
    bot = application.bot
    async with services.database.transaction() as session:
        await bot_facts.remember(session, bot_facts.BOT_USERNAME, bot.username)
    if services.settings.scale_out:
        outbox.others_sending(services)  # another worker may be sending its rows in flight
    await outbox.recover(services)  # before the first update: see outbox.recover
    await publish_commands(bot, services.settings.language.value, services.profile.school.name)
    log.info("Houqin is up as @%s for %s", bot.username, services.profile.school.name)


def install_schedule(application: HouqinApp, leading: Callable[[], bool] = lambda: True) -> None:
    """Put every scheduled job on python-telegram-bot's JobQueue, plus outbox delivery.

    A firing runs whatever of its job is due and has not run (`scheduler.jobs.run_job`), so
    APScheduler may run it however late (no misfire grace) and coalesce missed firings.
    With scale-out every worker installs the schedule, but a firing (and the outbox's pass)
    runs only while `leading()` (bot.leader).
    """
    runner = schedule.Runner.of(application)
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    def firing(job: schedule.ScheduledJob) -> Callable[[HouqinContext], Coroutine[Any, Any, None]]:
        async def fire(_context: HouqinContext) -> None:
            if leading():
                await schedule.run_job(runner, job)

        return fire

    never_too_late = {"replace_existing": True, "misfire_grace_time": None, "coalesce": True}
    for job in schedule.all_jobs(runner.services):
        job_queue.run_custom(
            firing(job),
            job_kwargs={"trigger": job.trigger, "id": job.name, **never_too_late},
            name=job.name,
        )

    async def deliver(_context: HouqinContext) -> None:
        # In the background, tracked by the outbox, so shutdown can hand it back.
        if leading():
            outbox.deliver_soon(runner.bot, runner.services)

    job_queue.run_custom(
        deliver,
        job_kwargs={
            "trigger": IntervalTrigger(seconds=OUTBOX_INTERVAL.total_seconds()),
            "id": "outbox.deliver",
            **never_too_late,
        },
        name="outbox.deliver",
    )


class Lifecycle:
    """Starts and stops one application (see the module docstring for the order).

    `schedule`: run the scheduled jobs (`houqin run`); tests drive the jobs themselves.
    """

    def __init__(self, application: HouqinApp, *, schedule: bool = True) -> None:
        self.application = application
        self.schedule = schedule
        self._catch_up: asyncio.Task[list[str]] | None = None
        self._stopping = False
        self.web: WebServer | None = None
        self.inbox: UpdateInbox | None = None
        self.leadership: Leadership | None = None

    async def start(self, receive: Receive) -> None:
        """Start up, take updates, then catch up the jobs missed while the bot was down."""
        application = self.application
        await drop_unused_state(application)
        await application.initialize()
        await on_startup(application)
        leadership = self._leadership()
        if self.schedule:
            install_schedule(application, leading=lambda: leadership.leading)
        await application.start()
        await self._start_web(receive)
        assert application.updater is not None
        await receive(application.updater)
        await leadership.start()  # leading: the jobs are caught up (`_lead`)

    def _leadership(self) -> Leadership:
        """Who runs the schedule and sends the outbox (bot.leader): this process, or with
        scale-out the worker holding the lock; until this one leads, it hands its deliveries
        to the leader."""
        services = services_of(self.application)
        self.leadership = Leadership(
            services,
            on_lead=self._lead,
            on_wake=lambda: outbox.deliver_soon(self.application.bot, services),
        )
        self.leadership.follow()
        return self.leadership

    def _lead(self) -> None:
        """This process leads (at start-up, or taking over from a dead leader): catch up the
        jobs missed meanwhile, and send what is due."""
        leadership = self.leadership
        if self._stopping or leadership is None:
            return
        if self.schedule and (self._catch_up is None or self._catch_up.done()):
            self._catch_up = asyncio.create_task(
                schedule.catch_up(
                    self.application,
                    stopping=lambda: self._stopping or not leadership.leading,
                    moment="on taking the lead" if leadership.scale_out else "after start",
                ),
                name="schedule.catch_up",
            )
        if leadership.scale_out:  # what the other workers queued meanwhile
            outbox.deliver_soon(self.application.bot, services_of(self.application))

    async def _start_web(self, receive: Receive) -> None:
        """Serve the cockpit (when its public address is set) and the webhook (in webhook
        mode) on one server, before Telegram is told where to send updates; then give
        everyone the cockpit's menu button."""
        services = services_of(self.application)
        if services.settings.scale_out and isinstance(receive, Webhook):
            self.inbox = UpdateInbox(self.application)
        hook = receive if isinstance(receive, Webhook) else None
        self.web = web_server(self.application, hook, self.inbox)
        if self.web is not None:
            await self.web.start()
        if self.inbox is not None:
            await self.inbox.start()
        if services.settings.cockpit_on:
            await publish_menu_buttons(self.application.bot, services)

    async def caught_up(self) -> list[str]:
        """Wait for the start-up catch-up; the names of the jobs that ran."""
        return await self._catch_up if self._catch_up is not None else []

    async def stop(self) -> None:
        """Stop taking updates, finish what was started, hand back the rest, shut down."""
        application = self.application
        self._stopping = True
        try:
            async with outbox.handing_back():
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                if self.web is not None:
                    await self.web.stop()  # the webhook's updates taken stay queued
                if self.inbox is not None:
                    await self.inbox.stop()  # the rest stay in the inbox for other workers
                if self._catch_up is not None:
                    await asyncio.gather(self._catch_up, return_exceptions=True)
                if application.running:
                    await application.stop()  # updates taken, jobs running; saves form state
                if not await outbox.settled(DRAIN_TIMEOUT):
                    log.warning(
                        "a delivery did not finish within %.0f s; the message being sent is "
                        "sent again at the next start",
                        DRAIN_TIMEOUT,
                    )
        finally:
            if self.leadership is not None:
                await self.leadership.stop()  # after the jobs finished: another worker leads
            await application.shutdown()
            # When start-up failed before the bot was initialized (a rejected token, an
            # unreachable Bot API), python-telegram-bot's shutdown leaves them open.
            for connection in application.bot_data.connections:
                await connection.shutdown()


async def serve(application: HouqinApp, receive: Receive) -> None:
    """Run the bot until SIGTERM or SIGINT, then stop it cleanly (`houqin run`)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            log.warning("already stopping (signal %s); SIGKILL stops at once", signum)
        else:
            log.info("signal %s: stopping", signum)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    lifecycle = Lifecycle(application)
    try:
        try:
            await lifecycle.start(receive)
            await stopping.wait()
        finally:
            await lifecycle.stop()
            log.info("Houqin stopped")
    finally:
        await services_of(application).database.dispose()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
