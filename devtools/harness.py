"""Run the real bot against the local Bot API sandbox: in this event loop, or as a process.

`running_bot` is used by the end-to-end tests, `houqin demo` and the benchmarks: the
Application is the one `houqin run` builds, polling the sandbox over HTTP; only the URLs and
the clock differ. `BotProcess` runs the shipped command itself (`python -m bot.cli run`) against
the sandbox, for the tests that stop or kill the process.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bot.app import build_application
from bot.lifecycle import Lifecycle, polling
from devtools.sandbox.server import BotApiSandbox
from handlers.context import HouqinApp
from notices import outbox
from notices.pacing import Window
from notices.services import Services
from school.profile import default_profile_path


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
    """Start the bot polling the Bot API server of its settings; stop it cleanly on exit, as
    `houqin run` does (bot.lifecycle), without the schedule: tests run jobs themselves.

    `prepare` may add handlers (or watch the application) before it initializes.
    """
    application = build_application(services)
    if prepare is not None:
        prepare(application)
    lifecycle = Lifecycle(application, schedule=False)
    try:
        await lifecycle.start(polling(poll_interval=0, timeout=1))
        yield application
    finally:
        await lifecycle.stop()


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
        # Pace groups as this Bot API counts (not at all when it enforces no limits).
        count, seconds = sandbox.group_limit
        outbox.pace_groups(Window(count, seconds) if sandbox.enforce_limits else None)

    try:
        async with running_application(
            services_for_sandbox(services, sandbox), prepare=watched
        ) as application:
            yield application
    finally:
        sandbox.extra_idle_checks.clear()


WAIT = 20.0  # seconds to wait for something the bot process should do


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:  # noqa: ASYNC109
    """Poll `condition` until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class BotProcess:
    """`houqin run` as an operator starts it, against the sandbox and a database (a SQLite
    file, or PostgreSQL); `env` adds or overrides settings (e.g. HOUQIN_SCHOOL_PROFILE)."""

    def __init__(
        self,
        sandbox: BotApiSandbox,
        tmp_path: Path,
        url: str,
        *,
        env: dict[str, str] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.url = url
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "HOUQIN_"))},
            "HOUQIN_TELEGRAM_BOT_TOKEN": sandbox.token,
            "HOUQIN_TELEGRAM_BASE_URL": sandbox.base_url,
            "HOUQIN_TELEGRAM_BASE_FILE_URL": sandbox.base_file_url,
            "HOUQIN_DATABASE_URL": self.url,
            "HOUQIN_LANGUAGE": "en",
            "HOUQIN_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, *, timeout: float = WAIT) -> None:  # noqa: ASYNC109
        """Start the bot and wait until it has published its commands (start-up is done)."""
        before = self._commands_published()
        self.starts += 1
        log = (self.tmp_path / f"bot-{self.starts}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            env=self.env,
            cwd=self.tmp_path,
            stdout=log,
            stderr=log,
        )
        log.close()
        await until(lambda: self._commands_published() > before, "the bot to start", timeout)

    def _commands_published(self) -> int:
        return sum(1 for method, *_rest in self.sandbox.requests if method == "setMyCommands")

    def logs(self) -> str:
        """What every run so far wrote to stdout and stderr."""
        return "".join(p.read_text() for p in sorted(self.tmp_path.glob("bot-*.log")))

    def last_log(self) -> str:
        """What the latest run wrote to stdout and stderr."""
        return (self.tmp_path / f"bot-{self.starts}.log").read_text()

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.process = None

    async def stop(self, *, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """SIGTERM, as systemd stops it; the log must show no traceback. The exit status."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(self.process.wait(), timeout)
        self.process = None
        logs = self.logs()
        assert "Traceback" not in logs, logs
        return status


WORKER_SECRET = "scale-out-test-secret"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Workers:
    """`count` bot processes on one PostgreSQL database, each serving the webhook on its own
    port, with the sandbox spreading the updates over them in turn as a reverse proxy would
    (HOUQIN_SCALE_OUT, webhook mode). `env` is added to every worker's settings."""

    def __init__(
        self,
        sandbox: BotApiSandbox,
        tmp_path: Path,
        url: str,
        count: int,
        *,
        env: dict[str, str] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.ports = [free_port() for _ in range(count)]
        self.processes: list[BotProcess] = []
        for number, port in enumerate(self.ports, start=1):
            folder = tmp_path / f"worker-{number}"
            folder.mkdir(exist_ok=True)
            worker_env = {
                "HOUQIN_MODE": "webhook",
                "HOUQIN_WEBHOOK_URL": "https://houqin.example.edu/telegram",
                "HOUQIN_WEBHOOK_SECRET": WORKER_SECRET,
                "HOUQIN_WEBHOOK_LISTEN": "127.0.0.1",
                "HOUQIN_WEBHOOK_PORT": str(port),
                "HOUQIN_SCALE_OUT": "true",
                **(env or {}),
            }
            self.processes.append(BotProcess(sandbox, folder, url, env=worker_env))

    def __getitem__(self, index: int) -> BotProcess:
        return self.processes[index]

    @property
    def addresses(self) -> list[str]:
        """Each worker's webhook address, in the order of `processes`."""
        return [f"http://127.0.0.1:{port}/telegram" for port in self.ports]

    def spread(self, processes: list[BotProcess] | None = None) -> None:
        """Let the sandbox deliver updates to these workers in turn (default: all)."""
        chosen = self.processes if processes is None else processes
        self.sandbox.webhook_upstreams = [
            self.addresses[self.processes.index(process)] for process in chosen
        ]

    async def start(self) -> None:
        """Start every worker, one after the other, and spread the updates over them."""
        for process in self.processes:
            await process.start()
        self.spread()

    async def stop(self) -> None:
        """SIGTERM every worker still running."""
        for process in self.processes:
            await process.stop()


def profile_with_reminder_at(path: Path, reminder: datetime) -> Path:
    """The shipped profile, with the work-log reminder at `reminder` (school time) and every
    day a working day, so the reminder is due whatever day the test runs."""
    text = default_profile_path().read_text(encoding="utf-8")
    text = re.sub(r'(?m)^reminder_time = "\d\d:\d\d"', f'reminder_time = "{reminder:%H:%M}"', text)
    text = re.sub(r"(?m)^second_reminder_time = .*\n", "", text)
    text = re.sub(r"(?m)^weekend = .*$", "weekend = []", text)
    text = re.sub(r"(?ms)^holidays = \[.*?^\]", "holidays = []", text)
    text = re.sub(r"(?ms)^makeup_workdays = \[.*?^\]", "makeup_workdays = []", text)
    path.write_text(text, encoding="utf-8")
    return path
